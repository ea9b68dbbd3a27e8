//! `range`: Java's `RangeAssignor` (without racks). For each topic, its partitions in order are
//! split into contiguous ranges over the topic's subscribers in member order; the first
//! `partitions % subscribers` members get one more.

use std::collections::BTreeMap;

use super::{sorted_members, Subscription};
use crate::types::TopicPartition;

pub(super) fn assign(
    partitions_per_topic: &BTreeMap<String, i32>,
    members: &BTreeMap<String, Subscription>,
) -> BTreeMap<String, Vec<TopicPartition>> {
    let mut assignment: BTreeMap<String, Vec<TopicPartition>> =
        members.keys().map(|m| (m.clone(), Vec::new())).collect();
    for (topic, &count) in partitions_per_topic {
        let subscribers = sorted_members(members.iter().filter(|(_, s)| s.topics.contains(topic)));
        if subscribers.is_empty() || count <= 0 {
            continue;
        }
        let n = subscribers.len() as i32;
        let (per_member, extra) = (count / n, count % n);
        let mut next = 0;
        for (i, member) in subscribers.into_iter().enumerate() {
            let take = per_member + i32::from((i as i32) < extra);
            if let Some(list) = assignment.get_mut(member) {
                list.extend((next..next + take).map(|p| TopicPartition::new(topic.clone(), p)));
            }
            next += take;
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

    // The cases of Java's RangeAssignorTest (no racks).

    #[test]
    fn one_consumer_no_or_nonexistent_topic() {
        let a = assign(&topics(&[]), &members(&[("consumer1", &[])]));
        assert_eq!(a["consumer1"], []);
        let a = assign(&topics(&[]), &members(&[("consumer1", &["topic1"])]));
        assert_eq!(a["consumer1"], []);
    }

    #[test]
    fn only_subscribed_topics_are_assigned() {
        let a = assign(
            &topics(&[("topic1", 3), ("other", 3)]),
            &members(&[("consumer1", &["topic1"])]),
        );
        assert_eq!(
            a["consumer1"],
            [tp("topic1", 0), tp("topic1", 1), tp("topic1", 2)]
        );
    }

    #[test]
    fn one_consumer_multiple_topics() {
        let a = assign(
            &topics(&[("topic1", 1), ("topic2", 2)]),
            &members(&[("consumer1", &["topic1", "topic2"])]),
        );
        assert_eq!(
            a["consumer1"],
            [tp("topic1", 0), tp("topic2", 0), tp("topic2", 1)]
        );
    }

    #[test]
    fn two_consumers_one_topic() {
        let m = members(&[("consumer1", &["topic1"]), ("consumer2", &["topic1"])]);
        let a = assign(&topics(&[("topic1", 1)]), &m);
        assert_eq!(
            (a["consumer1"].clone(), a["consumer2"].clone()),
            (vec![tp("topic1", 0)], vec![])
        );
        let a = assign(&topics(&[("topic1", 2)]), &m);
        assert_eq!(a["consumer1"], [tp("topic1", 0)]);
        assert_eq!(a["consumer2"], [tp("topic1", 1)]);
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
            [
                tp("topic1", 0),
                tp("topic1", 1),
                tp("topic2", 0),
                tp("topic2", 1)
            ]
        );
        assert_eq!(a["consumer2"], [tp("topic1", 2), tp("topic2", 2)]);
    }

    #[test]
    fn static_members_are_ordered_by_instance_id() {
        // testTwoStaticConsumersTwoTopicsSixPartitions: consumer-b has instance1, consumer-a
        // instance2, so consumer-b comes first.
        let mut m = members(&[
            ("consumer-b", &["topic1", "topic2"]),
            ("consumer-a", &["topic1", "topic2"]),
        ]);
        m.get_mut("consumer-b").unwrap().group_instance_id = Some("instance1".into());
        m.get_mut("consumer-a").unwrap().group_instance_id = Some("instance2".into());
        let t = topics(&[("topic1", 3), ("topic2", 3)]);
        let a = assign(&t, &m);
        assert_eq!(
            a["consumer-b"],
            [
                tp("topic1", 0),
                tp("topic1", 1),
                tp("topic2", 0),
                tp("topic2", 1)
            ]
        );
        assert_eq!(a["consumer-a"], [tp("topic1", 2), tp("topic2", 2)]);
        // testOneStaticConsumerAndOneDynamicConsumerTwoTopicsSixPartitions.
        m.get_mut("consumer-a").unwrap().group_instance_id = None;
        let a = assign(&t, &m);
        assert_eq!(
            a["consumer-b"],
            [
                tp("topic1", 0),
                tp("topic1", 1),
                tp("topic2", 0),
                tp("topic2", 1)
            ]
        );
    }

    #[test]
    fn uniform_subscription_of_three_topics() {
        // testRackAwareAssignmentWithUniformSubscription, the non-rack-aware expectation.
        let a = assign(
            &topics(&[("t1", 6), ("t2", 7), ("t3", 2)]),
            &members(&[
                ("consumer0", &["t1", "t2", "t3"]),
                ("consumer1", &["t1", "t2", "t3"]),
                ("consumer2", &["t1", "t2", "t3"]),
            ]),
        );
        let show = |v: &Vec<TopicPartition>| {
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        assert_eq!(show(&a["consumer0"]), "t1-0, t1-1, t2-0, t2-1, t2-2, t3-0");
        assert_eq!(show(&a["consumer1"]), "t1-2, t1-3, t2-3, t2-4, t3-1");
        assert_eq!(show(&a["consumer2"]), "t1-4, t1-5, t2-5, t2-6");
    }

    #[test]
    fn eight_partitions_over_two_members() {
        let a = assign(
            &topics(&[("t", 8)]),
            &members(&[("m1", &["t"]), ("m2", &["t"])]),
        );
        assert_eq!(
            a["m1"].iter().map(|t| t.partition).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        assert_eq!(
            a["m2"].iter().map(|t| t.partition).collect::<Vec<_>>(),
            [4, 5, 6, 7]
        );
    }
}
