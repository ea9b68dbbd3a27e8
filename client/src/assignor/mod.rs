//! Client-side partition assignors, named and behaving as the Java client's, and the consumer
//! protocol payloads they travel in.
//!
//! The group leader decodes every member's [`Subscription`] from its JoinGroup metadata, runs
//! the assignor the coordinator chose and sends each member its [`Assignment`] in SyncGroup.
//! Payloads are the `ConsumerProtocolSubscription` / `ConsumerProtocolAssignment` structs
//! behind a big-endian `i16` version, written at version 3 as the Java client writes them
//! (topics sorted, owned partitions sorted by topic then partition, generation -1 when there is
//! none) and read at `min(version, 3)`, so our consumers can share a group with Java's,
//! librdkafka's and kafka-python's. Racks are carried but not used: the broker reports none, and
//! without partition racks Java's rack-aware paths are off too.
//!
//! - [`Assignor::Range`] is `RangeAssignor` (`range`), per topic;
//! - [`Assignor::RoundRobin`] is `RoundRobinAssignor` (`roundrobin`), over all partitions;
//! - [`Assignor::CooperativeSticky`] is `CooperativeStickyAssignor` (`cooperative-sticky`):
//!   balanced, keeps owned partitions, and leaves out of an assignment any partition that must
//!   first be revoked from its current owner (it is assigned in the next rebalance).

mod range;
mod roundrobin;
mod sticky;

use std::collections::BTreeMap;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use fastdata_protocol::kafka_protocol::messages::{
    consumer_protocol_assignment, consumer_protocol_subscription, ConsumerProtocolAssignment,
    ConsumerProtocolSubscription, TopicName,
};
use fastdata_protocol::kafka_protocol::protocol::{Decodable, Encodable};

use crate::error::{Error, Result};
use crate::types::TopicPartition;
use crate::wire::str_bytes;

/// The version of the consumer protocol payloads written (the Java client's highest).
pub const CONSUMER_PROTOCOL_VERSION: i16 = 3;

/// The JoinGroup protocol type of consumer groups.
pub const PROTOCOL_TYPE: &str = "consumer";

/// "No generation" in a subscription.
pub const NO_GENERATION: i32 = -1;

/// One member's subscription, as the leader reads it from JoinGroup.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Subscription {
    /// Subscribed topics.
    pub topics: Vec<String>,
    /// Assignor-specific data (the cooperative-sticky assignor's generation).
    pub user_data: Option<Bytes>,
    /// Partitions the member owns now (v1+).
    pub owned_partitions: Vec<TopicPartition>,
    /// The generation those partitions were assigned in (v2+; -1 for none).
    pub generation_id: i32,
    /// The member's rack (v3+).
    pub rack_id: Option<String>,
    /// The member's `group.instance.id` (from JoinGroup, not the payload).
    pub group_instance_id: Option<String>,
}

/// What the leader gives one member.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Assignment {
    /// The partitions, grouped by topic in the order given.
    pub partitions: Vec<TopicPartition>,
    /// Assignor-specific data.
    pub user_data: Option<Bytes>,
}

/// A partition assignment strategy (`partition.assignment.strategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Assignor {
    /// `range`.
    Range,
    /// `roundrobin`.
    RoundRobin,
    /// `cooperative-sticky`.
    CooperativeSticky,
}

impl Assignor {
    /// The protocol name in JoinGroup.
    pub fn name(self) -> &'static str {
        match self {
            Assignor::Range => "range",
            Assignor::RoundRobin => "roundrobin",
            Assignor::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// By protocol name.
    pub fn parse(name: &str) -> Result<Assignor> {
        match name.trim() {
            "range" => Ok(Assignor::Range),
            "roundrobin" => Ok(Assignor::RoundRobin),
            "cooperative-sticky" => Ok(Assignor::CooperativeSticky),
            other => Err(Error::config(
                "partition.assignment.strategy",
                format!("unknown assignor {other:?} (range, roundrobin or cooperative-sticky)"),
            )),
        }
    }

    /// Whether it supports the cooperative rebalance protocol (only cooperative-sticky does;
    /// a group uses it only if every configured assignor does).
    pub fn supports_cooperative(self) -> bool {
        matches!(self, Assignor::CooperativeSticky)
    }

    /// The user data a member puts in its subscription: the cooperative-sticky assignor's
    /// generation (an `i32`, as the Java assignor writes it for readers of older versions).
    pub fn subscription_user_data(self, generation: i32) -> Option<Bytes> {
        match self {
            Assignor::CooperativeSticky => Some(Bytes::copy_from_slice(&generation.to_be_bytes())),
            _ => None,
        }
    }

    /// Assigns the partitions of `partitions_per_topic` (topic → partition count; topics with
    /// no metadata left out) to `members` (member id → subscription). Every member gets an
    /// entry, possibly empty.
    pub fn assign(
        self,
        partitions_per_topic: &BTreeMap<String, i32>,
        members: &BTreeMap<String, Subscription>,
    ) -> Result<BTreeMap<String, Vec<TopicPartition>>> {
        match self {
            Assignor::Range => Ok(range::assign(partitions_per_topic, members)),
            Assignor::RoundRobin => Ok(roundrobin::assign(partitions_per_topic, members)),
            Assignor::CooperativeSticky => {
                sticky::assign_cooperative(partitions_per_topic, members)
            }
        }
    }
}

/// Members in the order Java's `MemberInfo` sorts them: those with a `group.instance.id` first,
/// by instance id, then the others by member id.
pub(crate) fn sorted_members<'a>(
    members: impl IntoIterator<Item = (&'a String, &'a Subscription)>,
) -> Vec<&'a String> {
    let mut list: Vec<(&String, Option<&String>)> = members
        .into_iter()
        .map(|(id, s)| (id, s.group_instance_id.as_ref()))
        .collect();
    list.sort_by(|a, b| match (a.1, b.1) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.0.cmp(b.0),
    });
    list.into_iter().map(|(id, _)| id).collect()
}

fn payload_error(what: &str, reason: impl std::fmt::Display) -> Error {
    Error::Assignment(format!("malformed {what}: {reason}"))
}

/// Encodes a subscription as the Java client does (version 3).
pub fn encode_subscription(subscription: &Subscription) -> Result<Bytes> {
    let mut topics = subscription.topics.clone();
    topics.sort();
    topics.dedup();
    let mut owned = subscription.owned_partitions.clone();
    owned.sort();
    let mut grouped: Vec<consumer_protocol_subscription::TopicPartition> = Vec::new();
    for tp in owned {
        match grouped.last_mut() {
            Some(last) if last.topic.0.as_str() == tp.topic => last.partitions.push(tp.partition),
            _ => grouped.push(
                consumer_protocol_subscription::TopicPartition::default()
                    .with_topic(TopicName(str_bytes(&tp.topic)))
                    .with_partitions(vec![tp.partition]),
            ),
        }
    }
    let data = ConsumerProtocolSubscription::default()
        .with_topics(topics.iter().map(|t| str_bytes(t)).collect())
        .with_user_data(subscription.user_data.clone())
        .with_owned_partitions(grouped)
        .with_generation_id(subscription.generation_id)
        .with_rack_id(subscription.rack_id.as_deref().map(str_bytes));
    let mut buf = BytesMut::new();
    buf.put_i16(CONSUMER_PROTOCOL_VERSION);
    data.encode(&mut buf, CONSUMER_PROTOCOL_VERSION)
        .map_err(|e| payload_error("subscription", e))?;
    Ok(buf.freeze())
}

/// Reads the version prefix: newer versions are read as the newest one known, as Java does.
fn read_version(bytes: &mut Bytes, what: &str) -> Result<i16> {
    if bytes.remaining() < 2 {
        return Err(payload_error(what, "no version"));
    }
    let version = bytes.get_i16();
    if version < 0 {
        return Err(payload_error(what, format!("version {version}")));
    }
    Ok(version.min(CONSUMER_PROTOCOL_VERSION))
}

/// Decodes a subscription of any version.
pub fn decode_subscription(mut bytes: Bytes) -> Result<Subscription> {
    let version = read_version(&mut bytes, "subscription")?;
    let data = ConsumerProtocolSubscription::decode(&mut bytes, version)
        .map_err(|e| payload_error("subscription", e))?;
    Ok(Subscription {
        topics: data.topics.iter().map(|t| t.to_string()).collect(),
        user_data: data.user_data,
        owned_partitions: data
            .owned_partitions
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(|&p| TopicPartition::new(t.topic.0.to_string(), p))
            })
            .collect(),
        generation_id: if version >= 2 {
            data.generation_id
        } else {
            NO_GENERATION
        },
        rack_id: data
            .rack_id
            .map(|r| r.to_string())
            .filter(|r| !r.is_empty()),
        group_instance_id: None,
    })
}

/// Encodes an assignment as the Java client does (version 3; partitions grouped by topic in
/// order of first appearance).
pub fn encode_assignment(assignment: &Assignment) -> Result<Bytes> {
    let mut grouped: Vec<consumer_protocol_assignment::TopicPartition> = Vec::new();
    for tp in &assignment.partitions {
        match grouped.iter_mut().find(|g| g.topic.0.as_str() == tp.topic) {
            Some(g) => g.partitions.push(tp.partition),
            None => grouped.push(
                consumer_protocol_assignment::TopicPartition::default()
                    .with_topic(TopicName(str_bytes(&tp.topic)))
                    .with_partitions(vec![tp.partition]),
            ),
        }
    }
    let data = ConsumerProtocolAssignment::default()
        .with_assigned_partitions(grouped)
        .with_user_data(assignment.user_data.clone());
    let mut buf = BytesMut::new();
    buf.put_i16(CONSUMER_PROTOCOL_VERSION);
    data.encode(&mut buf, CONSUMER_PROTOCOL_VERSION)
        .map_err(|e| payload_error("assignment", e))?;
    Ok(buf.freeze())
}

/// Decodes an assignment of any version; an empty payload is an empty assignment (what a
/// coordinator sends a member the leader gave nothing).
pub fn decode_assignment(mut bytes: Bytes) -> Result<Assignment> {
    if bytes.is_empty() {
        return Ok(Assignment::default());
    }
    let version = read_version(&mut bytes, "assignment")?;
    let data = ConsumerProtocolAssignment::decode(&mut bytes, version)
        .map_err(|e| payload_error("assignment", e))?;
    Ok(Assignment {
        partitions: data
            .assigned_partitions
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(|&p| TopicPartition::new(t.topic.0.to_string(), p))
            })
            .collect(),
        user_data: data.user_data,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn tp(topic: &str, partition: i32) -> TopicPartition {
        TopicPartition::new(topic, partition)
    }

    pub(crate) fn subscription(topics: &[&str]) -> Subscription {
        Subscription {
            topics: topics.iter().map(|t| t.to_string()).collect(),
            generation_id: NO_GENERATION,
            ..Subscription::default()
        }
    }

    pub(crate) fn topics(counts: &[(&str, i32)]) -> BTreeMap<String, i32> {
        counts.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    #[test]
    fn subscription_round_trips_at_version_3() {
        let s = Subscription {
            topics: vec!["b".into(), "a".into()],
            user_data: Some(Bytes::from_static(&[0, 0, 0, 7])),
            owned_partitions: vec![tp("b", 1), tp("a", 2), tp("a", 0)],
            generation_id: 7,
            rack_id: Some("rack-1".into()),
            group_instance_id: None,
        };
        let bytes = encode_subscription(&s).unwrap();
        assert_eq!(&bytes[..2], &[0, 3], "version prefix");
        let back = decode_subscription(bytes).unwrap();
        assert_eq!(back.topics, ["a", "b"], "topics sorted as Java writes them");
        assert_eq!(back.owned_partitions, [tp("a", 0), tp("a", 2), tp("b", 1)]);
        assert_eq!(back.generation_id, 7);
        assert_eq!(back.user_data, s.user_data);
        assert_eq!(back.rack_id.as_deref(), Some("rack-1"));
    }

    #[test]
    fn subscription_bytes_are_the_java_layout() {
        // Version 3, topics ["t"], null user data, owned [t: [0]], generation 5, null rack.
        let s = Subscription {
            topics: vec!["t".into()],
            owned_partitions: vec![tp("t", 0)],
            generation_id: 5,
            ..Subscription::default()
        };
        #[rustfmt::skip]
        let expected: &[u8] = &[
            0, 3,                   // version
            0, 0, 0, 1, 0, 1, b't', // topics
            0xff, 0xff, 0xff, 0xff, // user data: null
            0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 0, // owned partitions
            0, 0, 0, 5,             // generation
            0xff, 0xff,             // rack: null
        ];
        assert_eq!(&encode_subscription(&s).unwrap()[..], expected);
    }

    #[test]
    fn a_version_0_subscription_from_an_old_client_decodes() {
        // kafka-python writes v0: topics and user data only.
        #[rustfmt::skip]
        let v0: &[u8] = &[0, 0, 0, 0, 0, 2, 0, 1, b'a', 0, 1, b'b', 0, 0, 0, 0];
        let s = decode_subscription(Bytes::from_static(v0)).unwrap();
        assert_eq!(s.topics, ["a", "b"]);
        assert_eq!(s.user_data, Some(Bytes::new()));
        assert!(s.owned_partitions.is_empty());
        assert_eq!(s.generation_id, NO_GENERATION);
    }

    #[test]
    fn a_newer_version_is_read_as_version_3() {
        let mut bytes = encode_subscription(&subscription(&["x"])).unwrap().to_vec();
        bytes[1] = 9;
        bytes.extend_from_slice(b"fields of a future version");
        assert_eq!(
            decode_subscription(Bytes::from(bytes)).unwrap().topics,
            ["x"]
        );
    }

    #[test]
    fn malformed_payloads_are_errors() {
        for bad in [&b""[..], &[0], &[0xff, 0xff], &[0, 3, 0, 0, 0, 9]] {
            assert!(matches!(
                decode_subscription(Bytes::copy_from_slice(bad)),
                Err(Error::Assignment(_))
            ));
        }
        assert!(matches!(
            decode_assignment(Bytes::from_static(&[0, 1, 0, 0])),
            Err(Error::Assignment(_))
        ));
    }

    #[test]
    fn assignment_round_trips_grouped_by_topic() {
        let a = Assignment {
            partitions: vec![tp("t", 0), tp("u", 1), tp("t", 2)],
            user_data: None,
        };
        let bytes = encode_assignment(&a).unwrap();
        assert_eq!(&bytes[..2], &[0, 3]);
        let back = decode_assignment(bytes).unwrap();
        assert_eq!(back.partitions, [tp("t", 0), tp("t", 2), tp("u", 1)]);
        assert_eq!(
            decode_assignment(Bytes::new()).unwrap(),
            Assignment::default()
        );
    }

    #[test]
    fn names_are_kafkas() {
        for a in [
            Assignor::Range,
            Assignor::RoundRobin,
            Assignor::CooperativeSticky,
        ] {
            assert_eq!(Assignor::parse(a.name()).unwrap(), a);
        }
        assert!(Assignor::parse("sticky").is_err());
        assert!(Assignor::CooperativeSticky.supports_cooperative());
        assert!(!Assignor::Range.supports_cooperative());
        assert_eq!(
            Assignor::CooperativeSticky
                .subscription_user_data(4)
                .unwrap(),
            Bytes::from_static(&[0, 0, 0, 4])
        );
        assert_eq!(Assignor::Range.subscription_user_data(4), None);
    }

    #[test]
    fn static_members_sort_first_by_instance_id() {
        let mut members = BTreeMap::new();
        let mut a = subscription(&["t"]);
        a.group_instance_id = Some("i2".into());
        let mut b = subscription(&["t"]);
        b.group_instance_id = Some("i1".into());
        members.insert("consumer-a".to_string(), a);
        members.insert("consumer-b".to_string(), b);
        members.insert("consumer-0".to_string(), subscription(&["t"]));
        let order = sorted_members(&members);
        assert_eq!(order, ["consumer-b", "consumer-a", "consumer-0"]);
    }
}
