//! `fastdata topic`: create, list, describe, alter and delete topics, in the manner of
//! `kafka-topics.sh` (the same output layout for `describe`).

use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use fastdata_client::admin::{Admin, AdminConfig, AlterConfigOp, NewTopic};
use fastdata_client::error::ErrorCode;

use crate::client_args::{key_value, runtime, Bootstrap};

/// `fastdata topic ...`
#[derive(Debug, Args)]
pub struct TopicArgs {
    #[command(flatten)]
    bootstrap: Bootstrap,
    #[command(subcommand)]
    command: TopicCommand,
}

#[derive(Debug, Subcommand)]
enum TopicCommand {
    /// Create a topic.
    Create {
        /// The topic's name.
        name: String,
        /// Partitions (default: the broker's num.partitions).
        #[arg(long, default_value_t = -1)]
        partitions: i32,
        /// Replication factor (default: the broker's).
        #[arg(long, default_value_t = -1)]
        replication_factor: i16,
        /// A topic config, KEY=VALUE (repeatable), e.g. cleanup.policy=compact.
        #[arg(long = "config", value_name = "KEY=VALUE", value_parser = key_value)]
        configs: Vec<(String, String)>,
        /// Succeed if the topic already exists.
        #[arg(long)]
        if_not_exists: bool,
    },
    /// List topic names.
    List {
        /// Include internal topics (__consumer_offsets).
        #[arg(long)]
        internal: bool,
    },
    /// Describe topics (all when none is named): partitions, leaders, replicas, configs set.
    Describe {
        /// Topics to describe.
        names: Vec<String>,
    },
    /// Grow a topic's partitions and set or remove its configs.
    Alter {
        /// The topic's name.
        name: String,
        /// The new number of partitions (only grows).
        #[arg(long)]
        partitions: Option<i32>,
        /// Set a topic config, KEY=VALUE (repeatable).
        #[arg(long = "config", value_name = "KEY=VALUE", value_parser = key_value)]
        configs: Vec<(String, String)>,
        /// Remove a topic config's override (repeatable).
        #[arg(long = "delete-config", value_name = "KEY")]
        delete_configs: Vec<String>,
    },
    /// Delete a topic and its data.
    Delete {
        /// The topic's name.
        name: String,
        /// Succeed if the topic does not exist.
        #[arg(long)]
        if_exists: bool,
    },
}

/// Runs `fastdata topic`.
pub fn run(args: TopicArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async move {
        let admin = Admin::new(AdminConfig::new(args.bootstrap.bootstrap.clone()))?;
        let outcome = command(&admin, args.command).await;
        admin.close();
        outcome.map(|()| ExitCode::SUCCESS)
    })
}

async fn command(admin: &Admin, command: TopicCommand) -> anyhow::Result<()> {
    match command {
        TopicCommand::Create {
            name,
            partitions,
            replication_factor,
            configs,
            if_not_exists,
        } => {
            let mut topic = NewTopic::new(name.clone(), partitions);
            topic.replication_factor = replication_factor;
            topic.configs = configs.into_iter().collect();
            match admin.create_topic(topic).await {
                Ok(_) => println!("Created topic {name}."),
                Err(e) if if_not_exists && e.code() == Some(ErrorCode::TOPIC_ALREADY_EXISTS) => {}
                Err(e) => return Err(e).with_context(|| format!("creating topic {name}")),
            }
        }
        TopicCommand::List { internal } => {
            for topic in admin.list_topics(internal).await? {
                println!("{}", topic.name);
            }
        }
        TopicCommand::Describe { names } => {
            let names = if names.is_empty() {
                admin
                    .list_topics(true)
                    .await?
                    .into_iter()
                    .map(|t| t.name)
                    .collect()
            } else {
                names
            };
            let wanted: Vec<&str> = names.iter().map(String::as_str).collect();
            let described = admin.describe_topics(&wanted).await?;
            let mut failed = Vec::new();
            for name in &names {
                match described.get(name) {
                    Some(Ok(t)) => {
                        let configs: Vec<String> = t
                            .configs
                            .iter()
                            .filter(|c| c.is_topic_override())
                            .map(|c| format!("{}={}", c.name, c.value.as_deref().unwrap_or("")))
                            .collect();
                        let replication = t.partitions.first().map_or(0, |p| p.replicas.len());
                        println!(
                            "Topic: {}\tTopicId: {}\tPartitionCount: {}\tReplicationFactor: {}\tConfigs: {}",
                            t.name,
                            t.topic_id,
                            t.partitions.len(),
                            replication,
                            configs.join(",")
                        );
                        for p in &t.partitions {
                            println!(
                                "\tTopic: {}\tPartition: {}\tLeader: {}\tReplicas: {}\tIsr: {}",
                                t.name,
                                p.partition,
                                p.leader,
                                join(&p.replicas),
                                join(&p.isr)
                            );
                        }
                    }
                    Some(Err(e)) => failed.push(format!("{name}: {e}")),
                    None => failed.push(format!("{name}: not in the answer")),
                }
            }
            if !failed.is_empty() {
                bail!("{}", failed.join("; "));
            }
        }
        TopicCommand::Alter {
            name,
            partitions,
            configs,
            delete_configs,
        } => {
            if partitions.is_none() && configs.is_empty() && delete_configs.is_empty() {
                bail!("nothing to alter: give --partitions, --config or --delete-config");
            }
            if let Some(count) = partitions {
                admin
                    .create_partitions(&name, count)
                    .await
                    .with_context(|| format!("growing {name} to {count} partitions"))?;
            }
            let ops: Vec<AlterConfigOp> = configs
                .into_iter()
                .map(|(k, v)| AlterConfigOp::Set(k, v))
                .chain(delete_configs.into_iter().map(AlterConfigOp::Delete))
                .collect();
            if !ops.is_empty() {
                admin
                    .alter_topic_configs(&name, &ops)
                    .await
                    .with_context(|| format!("altering the configs of {name}"))?;
            }
            println!("Altered topic {name}.");
        }
        TopicCommand::Delete { name, if_exists } => {
            let mut results = admin.delete_topics(&[name.as_str()]).await?;
            match results.remove(&name) {
                Some(Ok(())) => println!("Deleted topic {name}."),
                Some(Err(e))
                    if if_exists && e.code() == Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) => {}
                Some(Err(e)) => return Err(e).with_context(|| format!("deleting topic {name}")),
                None => bail!("deleting topic {name}: not in the answer"),
            }
        }
    }
    Ok(())
}

fn join(ids: &[i32]) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}
