//! The HTTP admin port: `/health`, `/ready` and `/metrics` for every service of the process.
//!
//! One port serves all the services a process runs (`fastdata dev` will run a broker and a
//! node): `/health` answers 200 while the process serves HTTP at all; `/ready` answers 200 only
//! when every service is ready (the framework's readiness interface: a rolling restart waits for
//! it), else 503 naming the services that are not; `/metrics` is the OpenMetrics text of every
//! service.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A service the admin port reports on.
pub trait AdminService: Send + Sync {
    /// Its name in `/ready` answers.
    fn name(&self) -> &'static str;
    /// Whether it serves requests.
    fn is_ready(&self) -> bool;
    /// Its metrics, in OpenMetrics text.
    fn metrics(&self) -> String;
}

impl AdminService for crate::broker::Broker {
    fn name(&self) -> &'static str {
        "broker"
    }
    fn is_ready(&self) -> bool {
        crate::broker::Broker::is_ready(self)
    }
    fn metrics(&self) -> String {
        self.render_metrics()
    }
}

type Services = Arc<Vec<Arc<dyn AdminService>>>;

async fn health() -> &'static str {
    "ok\n"
}

async fn ready(State(services): State<Services>) -> impl IntoResponse {
    let not_ready: Vec<&str> = services
        .iter()
        .filter(|s| !s.is_ready())
        .map(|s| s.name())
        .collect();
    if not_ready.is_empty() {
        (StatusCode::OK, "ready\n".to_string())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", not_ready.join(", ")),
        )
    }
}

async fn metrics(State(services): State<Services>) -> impl IntoResponse {
    let mut out = String::new();
    for service in services.iter() {
        let text = service.metrics();
        out.push_str(text.strip_suffix("# EOF\n").unwrap_or(&text));
    }
    out.push_str("# EOF\n");
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        out,
    )
}

/// Serve the admin endpoints on `listener` until `shutdown`.
pub async fn serve_admin(
    listener: TcpListener,
    services: Vec<Arc<dyn AdminService>>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(Arc::new(services));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}
