//! `fastdata group`: list consumer groups, and describe one (state, members and what each is
//! assigned, committed offsets, log end offsets and lag), in the manner of
//! `kafka-consumer-groups.sh --list` and `--describe`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use fastdata_client::admin::{
    Admin, AdminConfig, GroupDescription, GroupOffset, MemberDescription,
};
use fastdata_client::types::TopicPartition;

use crate::client_args::{print_table, runtime, Bootstrap};

/// `fastdata group ...`
#[derive(Debug, Args)]
pub struct GroupArgs {
    #[command(flatten)]
    bootstrap: Bootstrap,
    #[command(subcommand)]
    command: GroupCommand,
}

#[derive(Debug, Subcommand)]
enum GroupCommand {
    /// List the groups: id, state, protocol type.
    List,
    /// Describe a group: its state and, per partition, the committed offset, the log end
    /// offset, the lag and the member that holds it.
    Describe {
        /// The group id.
        group: String,
    },
}

/// Runs `fastdata group`.
pub fn run(args: GroupArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async move {
        let admin = Admin::new(AdminConfig::new(args.bootstrap.bootstrap.clone()))?;
        let outcome = match args.command {
            GroupCommand::List => list(&admin).await,
            GroupCommand::Describe { group } => describe(&admin, &group).await,
        };
        admin.close();
        outcome.map(|()| ExitCode::SUCCESS)
    })
}

async fn list(admin: &Admin) -> anyhow::Result<()> {
    let mut rows = vec![vec![
        "GROUP".to_string(),
        "STATE".to_string(),
        "TYPE".to_string(),
    ]];
    for g in admin.list_groups().await.context("listing groups")? {
        rows.push(vec![g.group_id, g.state, g.protocol_type]);
    }
    print_table(&rows);
    Ok(())
}

/// One row per partition the group has an offset for or a member holds.
fn describe_rows(
    group: &str,
    description: &GroupDescription,
    offsets: &[GroupOffset],
) -> Vec<Vec<String>> {
    let owners: BTreeMap<&TopicPartition, &MemberDescription> = description
        .members
        .iter()
        .flat_map(|m| m.assignment.iter().map(move |tp| (tp, m)))
        .collect();
    let mut partitions: BTreeMap<TopicPartition, Option<&GroupOffset>> =
        owners.keys().map(|tp| ((*tp).clone(), None)).collect();
    for o in offsets {
        partitions.insert(o.partition.clone(), Some(o));
    }
    let dash = || "-".to_string();
    let show = |v: Option<i64>| v.map_or_else(dash, |v| v.to_string());
    let mut rows = vec![[
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID",
    ]
    .map(String::from)
    .to_vec()];
    for (tp, offset) in partitions {
        let owner = owners.get(&tp);
        rows.push(vec![
            group.to_string(),
            tp.topic.clone(),
            tp.partition.to_string(),
            show(offset.and_then(|o| o.committed)),
            show(offset.and_then(|o| o.log_end_offset)),
            show(offset.and_then(|o| o.lag)),
            owner.map_or_else(dash, |m| m.member_id.clone()),
            owner.map_or_else(dash, |m| m.client_host.clone()),
            owner.map_or_else(dash, |m| m.client_id.clone()),
        ]);
    }
    rows
}

async fn describe(admin: &Admin, group: &str) -> anyhow::Result<()> {
    let mut described = admin
        .describe_groups(&[group])
        .await
        .context("describing the group")?;
    let description = match described.remove(group) {
        Some(Ok(d)) => d,
        Some(Err(e)) => return Err(e).with_context(|| format!("describing group {group}")),
        None => bail!("group {group} is not in the broker's answer"),
    };
    let offsets = admin
        .list_group_offsets(group)
        .await
        .with_context(|| format!("reading the offsets of group {group}"))?;
    if description.state == "Dead" && offsets.is_empty() {
        bail!("consumer group {group} does not exist");
    }
    println!(
        "Group {group}: state {}, protocol {}, {} member(s)\n",
        description.state,
        if description.protocol.is_empty() {
            "-"
        } else {
            &description.protocol
        },
        description.members.len()
    );
    print_table(&describe_rows(group, &description, &offsets));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_join_offsets_with_the_members_that_hold_them() {
        let tp = |p| TopicPartition::new("t", p);
        let description = GroupDescription {
            group_id: "g".into(),
            state: "Stable".into(),
            protocol_type: "consumer".into(),
            protocol: "range".into(),
            members: vec![MemberDescription {
                member_id: "m1".into(),
                group_instance_id: None,
                client_id: "c1".into(),
                client_host: "/127.0.0.1".into(),
                assignment: vec![tp(0), tp(1)],
            }],
        };
        let offsets = vec![GroupOffset {
            partition: tp(0),
            committed: Some(5),
            metadata: String::new(),
            log_end_offset: Some(8),
            lag: Some(3),
        }];
        let rows = describe_rows("g", &description, &offsets);
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[1][1..7],
            ["t", "0", "5", "8", "3", "m1"].map(String::from)
        );
        assert_eq!(
            rows[2][1..7],
            ["t", "1", "-", "-", "-", "m1"].map(String::from)
        );
    }
}
