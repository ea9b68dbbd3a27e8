//! `roundrobin`: Java's `RoundRobinAssignor`. All partitions of all subscribed topics, sorted
//! by topic and partition, are dealt to the members in member order, skipping a member not
//! subscribed to the partition's topic.

use std::collections::{BTreeMap, BTreeSet};

use super::{sorted_members, Subscription};
use crate::types::TopicPartition;

pub(super) fn assign(
    partitions_per_topic: &BTreeMap<String, i32>,
    members: &BTreeMap<String, Subscription>,
) -> BTreeMap<String, Vec<TopicPartition>> {
    let mut assignment: BTreeMap<String, Vec<TopicPartition>> =
        members.keys().map(|m| (m.clone(), Vec::new())).collect();
    let order = sorted_members(members);
    if order.is_empty() {
        return assignment;
    }
    let topics: BTreeSet<&String> = members.values().flat_map(|s| s.topics.iter()).collect();
    let mut next = 0;
    for topic in topics {
        let Some(&count) = partitions_per_topic.get(topic) else {
            continue;
        };
        for partition in 0..count {
            // Some member subscribes to the topic (it was collected from subscriptions), so
            // this finds one within a lap.
            for _ in 0..order.len() {
                let member = order[next % order.len()];
                next = (next + 1) % order.len();
                if members[member].topics.contains(topic) {
                    if let Some(list) = assignment.get_mut(member) {
                        list.push(TopicPartition::new(topic.clone(), partition));
                    }
                    break;
                }
            }
        }
    }
    assignment
}

#[cfg(test)]
mod tests {
    use super::super::tests::{subscription, topics, tp};
    use super::*;

    fn members(list: &[(&str, &[&str])]) -> BTreeMap<String, Subscription> {
        list.iter()
            .map(|(m, t)| (m.to_string(), subscription(t)))
            .collect()
    }

    // The cases of Java's RoundRobinAssignorTest and the class's documentation.

    #[test]
    fn two_consumers_two_topics_six_partitions() {
        let a = assign(
            &topics(&[("topic1", 3), ("topic2", 3)]),
            &members(&[
                ("consumer1", &["topic1", "topic2"]),
                ("consumer2", &["topic1", "topic2"]),
            ]),
        );
        assert_eq!(
            a["consumer1"],
            [tp("topic1", 0), tp("topic1", 2), tp("topic2", 1)]
        );
        assert_eq!(
            a["consumer2"],
            [tp("topic1", 1), tp("topic2", 0), tp("topic2", 2)]
        );
    }

    #[test]
    fn multiple_consumers_mixed_topics() {
        let a = assign(
            &topics(&[("topic1", 3), ("topic2", 2)]),
            &members(&[
                ("consumer1", &["topic1"]),
                ("consumer2", &["topic1", "topic2"]),
                ("consumer3", &["topic1"]),
            ]),
        );
        assert_eq!(a["consumer1"], [tp("topic1", 0)]);
        assert_eq!(
            a["consumer2"],
            [tp("topic1", 1), tp("topic2", 0), tp("topic2", 1)]
        );
        assert_eq!(a["consumer3"], [tp("topic1", 2)]);
    }

    #[test]
    fn unequal_subscriptions_from_the_class_documentation() {
        let a = assign(
            &topics(&[("t0", 1), ("t1", 2), ("t2", 3)]),
            &members(&[
                ("C0", &["t0"]),
                ("C1", &["t0", "t1"]),
                ("C2", &["t0", "t1", "t2"]),
            ]),
        );
        assert_eq!(a["C0"], [tp("t0", 0)]);
        assert_eq!(a["C1"], [tp("t1", 0)]);
        assert_eq!(
            a["C2"],
            [tp("t1", 1), tp("t2", 0), tp("t2", 1), tp("t2", 2)]
        );
    }

    #[test]
    fn nonexistent_topics_and_empty_groups() {
        let a = assign(&topics(&[]), &members(&[("consumer1", &["topic1"])]));
        assert_eq!(a["consumer1"], []);
        assert!(assign(&topics(&[("t", 3)]), &BTreeMap::new()).is_empty());
    }

    #[test]
    fn two_static_members_follow_instance_ids() {
        let mut m = members(&[("consumer1", &["topic"]), ("consumer2", &["topic"])]);
        m.get_mut("consumer1").unwrap().group_instance_id = Some("instance2".into());
        m.get_mut("consumer2").unwrap().group_instance_id = Some("instance1".into());
        let a = assign(&topics(&[("topic", 3)]), &m);
        assert_eq!(a["consumer2"], [tp("topic", 0), tp("topic", 2)]);
        assert_eq!(a["consumer1"], [tp("topic", 1)]);
    }
}
