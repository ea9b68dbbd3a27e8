//! Small conversions from the client's types to `kafka-protocol`'s wire types, and a timer
//! helper, shared by the modules that build requests.

use std::time::Duration;

use fastdata_protocol::kafka_protocol::messages::{GroupId, TopicName};
use fastdata_protocol::kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

/// A wire string.
pub(crate) fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// A wire topic name.
pub(crate) fn topic_name(topic: &str) -> TopicName {
    TopicName(str_bytes(topic))
}

/// A wire group id.
pub(crate) fn group_id(group: &str) -> GroupId {
    GroupId(str_bytes(group))
}

/// A duration as the `i32` milliseconds of a request field (saturating).
pub(crate) fn millis_i32(d: Duration) -> i32 {
    d.as_millis().min(i32::MAX as u128) as i32
}

/// Sleeps until `deadline`, or forever without one.
pub(crate) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
