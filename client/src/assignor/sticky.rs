//! `cooperative-sticky`: Java's `CooperativeStickyAssignor` over `AbstractStickyAssignor`
//! (rack-aware paths left out: they only run when partitions have racks, which the broker does
//! not report).
//!
//! 1. Each member's owned partitions are read with their generation (the subscription's
//!    generation field, else the `i32` in the user data). A partition claimed by two members
//!    goes to the higher generation; claimed twice in the same generation, it is owned by
//!    neither and counts as moving wherever it goes.
//! 2. If every member subscribes to the same topics, the constrained builder runs: with
//!    `min = ⌊P/M⌋`, `max = ⌈P/M⌉` and `P mod M` members allowed `max`, each member keeps up to
//!    its quota of owned partitions (sorted by partition, then topic), and the rest are dealt
//!    round-robin, sorted by topic and partition, to members under quota (sorted by id), then
//!    to members at `min` that may still take `max`.
//! 3. Otherwise the general builder runs: owned partitions still subscribed are kept, the rest
//!    go one by one to the least loaded subscriber, then partitions move from a member with
//!    more than one partition above another subscriber's count until balanced (preferring the
//!    previous generation's owner), and the result is kept only if it is better balanced.
//! 4. Cooperative step: a partition that changes owner is left out of the new owner's
//!    assignment; its old owner revokes it, rejoins, and the next rebalance assigns it.
//!
//! Where Java iterates a `HashMap` of members (whose order follows the member ids' hashes),
//! this iterates members in id order, so with ties the roles of equal members can be swapped
//! relative to a Java leader's; the properties (valid, balanced, sticky, no partition assigned
//! while still owned elsewhere) are the same.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::{Subscription, NO_GENERATION};
use crate::error::{Error, Result};
use crate::types::TopicPartition;

type Assignment = BTreeMap<String, Vec<TopicPartition>>;

/// Owned partitions and their generation, as `CooperativeStickyAssignor.memberData` reads them.
struct MemberData {
    partitions: Vec<TopicPartition>,
    generation: Option<i32>,
}

fn member_data(s: &Subscription) -> MemberData {
    let generation = if s.generation_id >= 0 {
        Some(s.generation_id)
    } else {
        s.user_data.as_ref().map(|data| {
            data.get(..4)
                .and_then(|b| b.try_into().ok())
                .map_or(NO_GENERATION, i32::from_be_bytes)
        })
    };
    MemberData {
        partitions: s.owned_partitions.clone(),
        generation,
    }
}

pub(super) fn assign_cooperative(
    partitions_per_topic: &BTreeMap<String, i32>,
    members: &BTreeMap<String, Subscription>,
) -> Result<Assignment> {
    let subscribed: BTreeSet<&String> = members.values().flat_map(|s| &s.topics).collect();
    let partitions_per_topic: BTreeMap<String, i32> = partitions_per_topic
        .iter()
        .filter(|(t, &n)| subscribed.contains(t) && n > 0)
        .map(|(t, &n)| (t.clone(), n))
        .collect();
    let (mut assignment, transferring) = assign_sticky(&partitions_per_topic, members)?;
    let transferring = match transferring {
        Some(t) => t,
        None => transferring_ownership(members, &assignment),
    };
    for (tp, member) in transferring {
        if let Some(list) = assignment.get_mut(&member) {
            list.retain(|p| *p != tp);
        }
    }
    Ok(assignment)
}

/// The sticky assignment, and (constrained builder only) the partitions changing owner.
fn assign_sticky(
    partitions_per_topic: &BTreeMap<String, i32>,
    members: &BTreeMap<String, Subscription>,
) -> Result<(Assignment, Option<HashMap<TopicPartition, String>>)> {
    let mut owned: Assignment = BTreeMap::new();
    let mut multiply_owned: HashSet<TopicPartition> = HashSet::new();
    let mut previous_owner: HashMap<TopicPartition, String> = HashMap::new();
    let mut first_topics: BTreeSet<&String> = BTreeSet::new();
    let mut all_equal = true;
    let mut max_generation = NO_GENERATION;
    for (member, subscription) in members {
        let topics: BTreeSet<&String> = subscription.topics.iter().collect();
        if first_topics.is_empty() {
            first_topics = topics;
        } else if all_equal && topics != first_topics {
            all_equal = false;
        }
        let data = member_data(subscription);
        let generation = data.generation.unwrap_or(NO_GENERATION);
        max_generation = max_generation.max(generation);
        owned.insert(member.clone(), Vec::new());
        for tp in data.partitions {
            if !partitions_per_topic.contains_key(&tp.topic) {
                continue;
            }
            match previous_owner.get(&tp).cloned() {
                None => {
                    previous_owner.insert(tp.clone(), member.clone());
                    if let Some(list) = owned.get_mut(member) {
                        list.push(tp);
                    }
                }
                Some(other) => {
                    let other_generation = members
                        .get(&other)
                        .map_or(NO_GENERATION, |s| s.generation_id.max(NO_GENERATION));
                    if generation >= other_generation {
                        if let Some(list) = owned.get_mut(&other) {
                            remove_first(list, &tp);
                        }
                        if generation == other_generation {
                            tracing::warn!(%tp, member, other, generation, "partition claimed by two members of one generation");
                            multiply_owned.insert(tp.clone());
                        } else if let Some(list) = owned.get_mut(member) {
                            list.push(tp.clone());
                        }
                        previous_owner.insert(tp, member.clone());
                    }
                }
            }
        }
    }
    if all_equal {
        let (assignment, transferring) = constrained(partitions_per_topic, owned, &multiply_owned)?;
        Ok((assignment, Some(transferring)))
    } else {
        let assignment = General::new(partitions_per_topic, members, owned, max_generation).build();
        Ok((assignment, None))
    }
}

fn remove_first(list: &mut Vec<TopicPartition>, tp: &TopicPartition) {
    if let Some(i) = list.iter().position(|p| p == tp) {
        list.remove(i);
    }
}

/// Java's `computePartitionsTransferringOwnership`: partitions newly assigned to one member
/// that another member owned (and revokes now).
fn transferring_ownership(
    members: &BTreeMap<String, Subscription>,
    assignment: &Assignment,
) -> HashMap<TopicPartition, String> {
    let mut added: HashMap<TopicPartition, String> = HashMap::new();
    let mut revoked: HashSet<TopicPartition> = HashSet::new();
    for (member, assigned) in assignment {
        let owned: &[TopicPartition] = members.get(member).map_or(&[], |s| &s.owned_partitions);
        for tp in assigned {
            if !owned.contains(tp) {
                added.insert(tp.clone(), member.clone());
            }
        }
        for tp in owned {
            if !assigned.contains(tp) {
                revoked.insert(tp.clone());
            }
        }
    }
    added.retain(|tp, _| revoked.contains(tp));
    added
}

fn all_partitions_sorted(partitions_per_topic: &BTreeMap<String, i32>) -> Vec<TopicPartition> {
    partitions_per_topic
        .iter()
        .flat_map(|(t, &n)| (0..n).map(move |p| TopicPartition::new(t.clone(), p)))
        .collect()
}

/// The constrained builder (every member subscribes to the same topics).
fn constrained(
    partitions_per_topic: &BTreeMap<String, i32>,
    owned: Assignment,
    multiply_owned: &HashSet<TopicPartition>,
) -> Result<(Assignment, HashMap<TopicPartition, String>)> {
    let total: i32 = partitions_per_topic.values().sum();
    let members = owned.len() as i32;
    let mut assignment: Assignment = owned.keys().map(|m| (m.clone(), Vec::new())).collect();
    let mut transferring = HashMap::new();
    if members == 0 {
        return Ok((assignment, transferring));
    }
    let min_quota = (total / members) as usize;
    let max_quota = ((total + members - 1) / members) as usize;
    let expected_over_min = (total % members) as usize;
    let mut over_min = 0usize;
    let mut under_min: Vec<String> = Vec::new();
    let mut exactly_min: Vec<String> = Vec::new();
    let mut maybe_revoked: HashMap<TopicPartition, String> = HashMap::new();
    let mut assigned: HashSet<TopicPartition> = HashSet::new();

    for (member, mut partitions) in owned {
        partitions.sort_by(|a, b| {
            a.partition
                .cmp(&b.partition)
                .then_with(|| a.topic.cmp(&b.topic))
        });
        partitions.retain(|tp| !multiply_owned.contains(tp));
        let list = assignment.entry(member.clone()).or_default();
        if partitions.len() < min_quota {
            assigned.extend(partitions.iter().cloned());
            list.extend(partitions);
            under_min.push(member);
        } else if partitions.len() >= max_quota && over_min < expected_over_min {
            over_min += 1;
            if over_min == expected_over_min {
                exactly_min.clear();
            }
            for tp in partitions.split_off(max_quota) {
                maybe_revoked.insert(tp, member.clone());
            }
            assigned.extend(partitions.iter().cloned());
            list.extend(partitions);
        } else {
            for tp in partitions.split_off(min_quota) {
                maybe_revoked.insert(tp, member.clone());
            }
            assigned.extend(partitions.iter().cloned());
            list.extend(partitions);
            if over_min < expected_over_min {
                exactly_min.push(member);
            }
        }
    }

    let unassigned: Vec<TopicPartition> = all_partitions_sorted(partitions_per_topic)
        .into_iter()
        .filter(|tp| !assigned.contains(tp))
        .collect();
    under_min.sort();
    exactly_min.sort();
    let mut exactly_min: std::collections::VecDeque<String> = exactly_min.into();

    // Round robin: through the members under quota (a cursor that wraps), then members at
    // min quota that may take max.
    let mut cursor = 0usize;
    for tp in unassigned {
        let (member, from_under) = if cursor < under_min.len() {
            cursor += 1;
            (under_min[cursor - 1].clone(), true)
        } else if under_min.is_empty() {
            match exactly_min.pop_front() {
                Some(m) => (m, false),
                None => {
                    return Err(Error::Assignment(
                        "cooperative-sticky: no member left to take a partition".to_owned(),
                    ))
                }
            }
        } else {
            cursor = 1;
            (under_min[0].clone(), true)
        };
        let list = assignment.entry(member.clone()).or_default();
        list.push(tp.clone());
        let count = list.len();
        if maybe_revoked.get(&tp).is_some_and(|owner| *owner != member)
            || multiply_owned.contains(&tp)
        {
            transferring.insert(tp, member.clone());
        }
        if count == min_quota && from_under {
            cursor -= 1;
            under_min.remove(cursor);
            exactly_min.push_back(member);
        } else if count == max_quota {
            over_min += 1;
        }
    }

    for member in &under_min {
        if over_min != expected_over_min || assignment[member].len() != min_quota {
            return Err(Error::Assignment(format!(
                "cooperative-sticky: member {member} ends below its quota of {min_quota}"
            )));
        }
    }
    Ok((assignment, transferring))
}

/// Partition movements during balancing, to move a partition back rather than ping-pong it
/// (Java's `PartitionMovements`).
#[derive(Default)]
struct Movements {
    by_topic: HashMap<String, HashMap<(String, String), BTreeSet<TopicPartition>>>,
    of_partition: HashMap<TopicPartition, (String, String)>,
}

impl Movements {
    fn remove(&mut self, tp: &TopicPartition) -> Option<(String, String)> {
        let pair = self.of_partition.remove(tp)?;
        if let Some(pairs) = self.by_topic.get_mut(&tp.topic) {
            if let Some(set) = pairs.get_mut(&pair) {
                set.remove(tp);
                if set.is_empty() {
                    pairs.remove(&pair);
                }
            }
            if pairs.is_empty() {
                self.by_topic.remove(&tp.topic);
            }
        }
        Some(pair)
    }

    fn add(&mut self, tp: TopicPartition, pair: (String, String)) {
        self.of_partition.insert(tp.clone(), pair.clone());
        self.by_topic
            .entry(tp.topic.clone())
            .or_default()
            .entry(pair)
            .or_default()
            .insert(tp);
    }

    fn moved(&mut self, tp: &TopicPartition, old: &str, new: &str) {
        match self.remove(tp) {
            Some((src, _)) => {
                if src != new {
                    self.add(tp.clone(), (src, new.to_owned()));
                }
            }
            None => self.add(tp.clone(), (old.to_owned(), new.to_owned())),
        }
    }

    /// If a partition of the topic already moved the other way, move that one back instead.
    fn actual_partition_to_move(
        &self,
        tp: &TopicPartition,
        old: &str,
        new: &str,
    ) -> TopicPartition {
        let Some(pairs) = self.by_topic.get(&tp.topic) else {
            return tp.clone();
        };
        let old = match self.of_partition.get(tp) {
            Some((src, _)) => src.as_str(),
            None => old,
        };
        match pairs
            .get(&(new.to_owned(), old.to_owned()))
            .and_then(|s| s.iter().next())
        {
            Some(other) => other.clone(),
            None => tp.clone(),
        }
    }
}

/// The general builder (members subscribe to different topics).
struct General<'a> {
    partitions_per_topic: &'a BTreeMap<String, i32>,
    total: usize,
    topic_consumers: BTreeMap<String, Vec<String>>,
    consumer_topics: BTreeMap<String, Vec<String>>,
    current: Assignment,
    partition_consumer: HashMap<TopicPartition, String>,
    sorted_partitions: Vec<TopicPartition>,
    /// Members by (number of partitions, id).
    sorted: BTreeSet<(usize, String)>,
    previous: HashMap<TopicPartition, (String, i32)>,
    movements: Movements,
    revocation_required: bool,
}

impl<'a> General<'a> {
    fn new(
        partitions_per_topic: &'a BTreeMap<String, i32>,
        members: &BTreeMap<String, Subscription>,
        owned: Assignment,
        max_generation: i32,
    ) -> Self {
        let mut topic_consumers: BTreeMap<String, Vec<String>> = partitions_per_topic
            .keys()
            .map(|t| (t.clone(), Vec::new()))
            .collect();
        let mut consumer_topics = BTreeMap::new();
        let mut current = owned;
        for (member, s) in members {
            let topics: Vec<String> = s
                .topics
                .iter()
                .filter(|t| partitions_per_topic.contains_key(*t))
                .cloned()
                .collect();
            for t in &topics {
                if let Some(list) = topic_consumers.get_mut(t) {
                    list.push(member.clone());
                }
            }
            consumer_topics.insert(member.clone(), topics);
            current.entry(member.clone()).or_default();
        }
        let partition_consumer = current
            .iter()
            .flat_map(|(m, parts)| parts.iter().map(move |tp| (tp.clone(), m.clone())))
            .collect();
        let mut topics: Vec<&String> = topic_consumers.keys().collect();
        topics.sort_by(|a, b| {
            topic_consumers[*a]
                .len()
                .cmp(&topic_consumers[*b].len())
                .then_with(|| a.cmp(b))
        });
        let sorted_partitions = topics
            .into_iter()
            .flat_map(|t| {
                (0..partitions_per_topic[t]).map(move |p| TopicPartition::new(t.clone(), p))
            })
            .collect();

        // The previous owner of each partition: the highest generation below the current one.
        let mut previous: HashMap<TopicPartition, (String, i32)> = HashMap::new();
        for (member, s) in members {
            let data = member_data(s);
            let generation = match data.generation {
                Some(g) if g < max_generation => g,
                None if max_generation > NO_GENERATION => NO_GENERATION,
                _ => continue,
            };
            for tp in data.partitions {
                let newer = previous.get(&tp).is_none_or(|(_, g)| generation > *g);
                if newer {
                    previous.insert(tp, (member.clone(), generation));
                }
            }
        }
        General {
            partitions_per_topic,
            total: partitions_per_topic.values().map(|&n| n as usize).sum(),
            topic_consumers,
            consumer_topics,
            current,
            partition_consumer,
            sorted_partitions,
            sorted: BTreeSet::new(),
            previous,
            movements: Movements::default(),
            revocation_required: false,
        }
    }

    fn build(mut self) -> Assignment {
        let mut assigned: HashSet<TopicPartition> = HashSet::new();
        let members: Vec<String> = self.current.keys().cloned().collect();
        for member in members {
            let topics = self
                .consumer_topics
                .get(&member)
                .cloned()
                .unwrap_or_default();
            let Some(list) = self.current.get_mut(&member) else {
                continue;
            };
            let parts = std::mem::take(list);
            let mut kept = Vec::with_capacity(parts.len());
            for tp in parts {
                if !self.topic_consumers.contains_key(&tp.topic) {
                    self.partition_consumer.remove(&tp);
                } else if !topics.contains(&tp.topic) {
                    self.revocation_required = true;
                } else {
                    assigned.insert(tp.clone());
                    kept.push(tp);
                }
            }
            self.current.insert(member, kept);
        }
        let unassigned: Vec<TopicPartition> = self
            .sorted_partitions
            .iter()
            .filter(|tp| !assigned.contains(*tp))
            .cloned()
            .collect();
        self.sorted = self
            .current
            .iter()
            .map(|(m, p)| (p.len(), m.clone()))
            .collect();
        self.balance(unassigned);
        self.current
    }

    fn size(&self, member: &str) -> usize {
        self.current.get(member).map_or(0, Vec::len)
    }

    fn subscribes(&self, member: &str, topic: &str) -> bool {
        self.consumer_topics
            .get(member)
            .is_some_and(|t| t.iter().any(|x| x == topic))
    }

    fn max_assignment_size(&self, member: &str) -> usize {
        let topics = self
            .consumer_topics
            .get(member)
            .map_or(&[][..], Vec::as_slice);
        if topics.len() == self.partitions_per_topic.len() {
            self.total
        } else {
            topics
                .iter()
                .map(|t| self.partitions_per_topic[t] as usize)
                .sum()
        }
    }

    /// Moves `member` in the sorted set after its count changed by `f`.
    fn update(&mut self, member: &str, f: impl FnOnce(&mut Vec<TopicPartition>)) {
        let before = self.size(member);
        let was_sorted = self.sorted.remove(&(before, member.to_owned()));
        if let Some(list) = self.current.get_mut(member) {
            f(list);
        }
        if was_sorted {
            self.sorted.insert((self.size(member), member.to_owned()));
        }
    }

    fn balance(&mut self, mut unassigned: Vec<TopicPartition>) {
        let initializing = self.sorted.last().is_none_or(|(n, _)| *n == 0);
        for tp in &unassigned {
            if self
                .topic_consumers
                .get(&tp.topic)
                .is_none_or(Vec::is_empty)
            {
                continue;
            }
            let target = self
                .sorted
                .iter()
                .find(|(_, m)| self.subscribes(m, &tp.topic))
                .map(|(_, m)| m.clone());
            if let Some(member) = target {
                self.update(&member, |l| l.push(tp.clone()));
                self.partition_consumer.insert(tp.clone(), member);
            }
        }

        let fixed: HashSet<TopicPartition> = self
            .topic_consumers
            .iter()
            .filter(|(_, c)| c.len() < 2)
            .flat_map(|(t, _)| {
                (0..self.partitions_per_topic[t]).map(move |p| TopicPartition::new(t.clone(), p))
            })
            .collect();
        self.sorted_partitions.retain(|tp| !fixed.contains(tp));
        unassigned.retain(|tp| !fixed.contains(tp));

        let mut fixed_assignments: Assignment = BTreeMap::new();
        let members: Vec<String> = self.consumer_topics.keys().cloned().collect();
        for member in members {
            if !self.can_participate(&member) {
                self.sorted.remove(&(self.size(&member), member.clone()));
                if let Some(parts) = self.current.remove(&member) {
                    fixed_assignments.insert(member, parts);
                }
            }
        }

        let before = self.current.clone();
        let before_owners = self.partition_consumer.clone();
        if !self.revocation_required {
            self.reassign(&unassigned);
        }
        let all = self.sorted_partitions.clone();
        let performed = self.reassign(&all);
        if !initializing && performed && score(&self.current) >= score(&before) {
            self.current = before;
            self.partition_consumer = before_owners;
            self.sorted = self
                .current
                .iter()
                .map(|(m, p)| (p.len(), m.clone()))
                .collect();
        }
        for (member, parts) in fixed_assignments {
            self.sorted.insert((parts.len(), member.clone()));
            self.current.insert(member, parts);
        }
    }

    fn can_participate(&self, member: &str) -> bool {
        let size = self.size(member);
        if size < self.max_assignment_size(member) {
            return true;
        }
        self.current.get(member).is_some_and(|parts| {
            parts.iter().any(|tp| {
                self.topic_consumers
                    .get(&tp.topic)
                    .is_some_and(|c| c.len() >= 2)
            })
        })
    }

    fn is_balanced(&self) -> bool {
        let (Some(first), Some(last)) = (self.sorted.first(), self.sorted.last()) else {
            return true;
        };
        if first.0 + 1 >= last.0 {
            return true;
        }
        let owners: HashMap<&TopicPartition, &String> = self
            .current
            .iter()
            .flat_map(|(m, parts)| parts.iter().map(move |tp| (tp, m)))
            .collect();
        for (count, member) in &self.sorted {
            if *count == self.max_assignment_size(member) {
                continue;
            }
            let mine = &self.current[member];
            for topic in &self.consumer_topics[member] {
                for p in 0..self.partitions_per_topic[topic] {
                    let tp = TopicPartition::new(topic.clone(), p);
                    if mine.contains(&tp) {
                        continue;
                    }
                    if let Some(other) = owners.get(&tp) {
                        if count + 1 < self.size(other) {
                            return false;
                        }
                    }
                }
            }
        }
        true
    }

    /// Java's `performReassignments`; returns whether anything moved.
    fn reassign(&mut self, partitions: &[TopicPartition]) -> bool {
        let mut performed = false;
        loop {
            let mut modified = false;
            for tp in partitions {
                if self.is_balanced() {
                    break;
                }
                if self
                    .topic_consumers
                    .get(&tp.topic)
                    .is_none_or(|c| c.len() <= 1)
                {
                    continue;
                }
                let Some(consumer) = self.partition_consumer.get(tp).cloned() else {
                    continue;
                };
                if !self.current.contains_key(&consumer) {
                    continue;
                }
                if let Some((previous, _)) = self.previous.get(tp).cloned() {
                    if self.current.contains_key(&previous)
                        && self.subscribes(&previous, &tp.topic)
                        && self.size(&consumer) > self.size(&previous) + 1
                    {
                        self.reassign_to(tp, &previous);
                        performed = true;
                        modified = true;
                        continue;
                    }
                }
                let others = self.topic_consumers[&tp.topic].clone();
                if others.iter().any(|o| {
                    self.current.contains_key(o) && self.size(&consumer) > self.size(o) + 1
                }) {
                    let target = self
                        .sorted
                        .iter()
                        .find(|(_, m)| self.subscribes(m, &tp.topic))
                        .map(|(_, m)| m.clone());
                    if let Some(target) = target {
                        self.reassign_to(tp, &target);
                        performed = true;
                        modified = true;
                    }
                }
            }
            if !modified {
                return performed;
            }
        }
    }

    fn reassign_to(&mut self, tp: &TopicPartition, new: &str) {
        let Some(old) = self.partition_consumer.get(tp).cloned() else {
            return;
        };
        let moving = self.movements.actual_partition_to_move(tp, &old, new);
        let Some(from) = self.partition_consumer.get(&moving).cloned() else {
            return;
        };
        self.movements.moved(&moving, &from, new);
        let m = moving.clone();
        self.update(&from, |l| remove_first(l, &m));
        let m = moving.clone();
        self.update(new, |l| l.push(m));
        self.partition_consumer.insert(moving, new.to_owned());
    }
}

/// Sum over member pairs of the difference in their partition counts.
fn score(assignment: &Assignment) -> usize {
    let sizes: Vec<usize> = assignment.values().map(Vec::len).collect();
    let mut total = 0;
    for (i, a) in sizes.iter().enumerate() {
        for b in &sizes[i + 1..] {
            total += a.abs_diff(*b);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::super::tests::{subscription, topics, tp};
    use super::super::Assignor;
    use super::*;
    use bytes::Bytes;

    const GENERATION: i32 = 1;

    /// A subscription as the Java tests' `buildSubscriptionV2Above`.
    fn owning(topics: &[&str], owned: &[TopicPartition], generation: i32) -> Subscription {
        Subscription {
            owned_partitions: owned.to_vec(),
            generation_id: generation,
            user_data: Assignor::CooperativeSticky.subscription_user_data(generation),
            ..subscription(topics)
        }
    }

    fn assign(t: &BTreeMap<String, i32>, m: &BTreeMap<String, Subscription>) -> Assignment {
        assign_cooperative(t, m).unwrap()
    }

    fn members(list: Vec<(&str, Subscription)>) -> BTreeMap<String, Subscription> {
        list.into_iter().map(|(m, s)| (m.to_string(), s)).collect()
    }

    /// Java's `CooperativeStickyAssignorTest.verifyValidityAndBalance`: while the assignment
    /// revokes partitions, run the follow-up rebalance with what members now own (checking no
    /// partition is assigned while still owned elsewhere); then check the final assignment is
    /// valid and balanced. Returns the final assignment.
    fn settle(
        t: &BTreeMap<String, i32>,
        mut m: BTreeMap<String, Subscription>,
        mut a: Assignment,
    ) -> Assignment {
        for _ in 0..4 {
            let mut added = HashSet::new();
            let mut revoked = HashSet::new();
            for (member, assigned) in &a {
                let owned = &m[member].owned_partitions;
                revoked.extend(owned.iter().filter(|p| !assigned.contains(p)).cloned());
                added.extend(assigned.iter().filter(|p| !owned.contains(p)).cloned());
            }
            assert!(
                added.is_disjoint(&revoked),
                "assigned while still owned: {:?}",
                added.intersection(&revoked).collect::<Vec<_>>()
            );
            if revoked.is_empty() {
                check_valid_and_balanced(t, &m, &a);
                return a;
            }
            for (member, assigned) in &a {
                let s = m.get_mut(member).unwrap();
                s.owned_partitions = assigned.clone();
                s.generation_id = GENERATION;
            }
            a = assign(t, &m);
        }
        panic!("no stable assignment after 4 rebalances: {a:?}");
    }

    fn check_valid_and_balanced(
        t: &BTreeMap<String, i32>,
        m: &BTreeMap<String, Subscription>,
        a: &Assignment,
    ) {
        let mut seen = HashSet::new();
        for (member, parts) in a {
            for p in parts {
                assert!(
                    m[member].topics.contains(&p.topic),
                    "{member} got {p} without subscribing"
                );
                assert!(seen.insert(p.clone()), "{p} assigned twice");
            }
        }
        let subscribed: BTreeSet<&String> = m.values().flat_map(|s| &s.topics).collect();
        for (topic, &n) in t.iter().filter(|(t, _)| subscribed.contains(t)) {
            for p in 0..n {
                assert!(seen.contains(&tp(topic, p)), "{topic}-{p} unassigned");
            }
        }
        for (x, px) in a {
            for (y, py) in a {
                if px.len() > py.len() + 1 {
                    assert!(
                        !px.iter().any(|p| m[y].topics.contains(&p.topic)),
                        "{x} ({}) could give {y} ({}) a partition",
                        px.len(),
                        py.len()
                    );
                }
            }
        }
    }

    fn fully_balanced(a: &Assignment) -> bool {
        let sizes: Vec<usize> = a.values().map(Vec::len).collect();
        sizes.iter().max().unwrap_or(&0) - sizes.iter().min().unwrap_or(&0) <= 1
    }

    fn sorted(mut v: Vec<TopicPartition>) -> Vec<TopicPartition> {
        v.sort();
        v
    }

    // The cases of Java's AbstractStickyAssignorTest and CooperativeStickyAssignorTest (no racks).

    #[test]
    fn two_consumers_two_topics_six_partitions() {
        let t = topics(&[("topic1", 3), ("topic2", 3)]);
        let m = members(vec![
            ("consumer1", subscription(&["topic1", "topic2"])),
            ("consumer2", subscription(&["topic1", "topic2"])),
        ]);
        let a = assign(&t, &m);
        assert_eq!(
            a["consumer1"],
            [tp("topic1", 0), tp("topic1", 2), tp("topic2", 1)]
        );
        assert_eq!(
            a["consumer2"],
            [tp("topic1", 1), tp("topic2", 0), tp("topic2", 2)]
        );
        assert!(fully_balanced(&settle(&t, m, a)));
    }

    #[test]
    fn multiple_consumers_mixed_topic_subscriptions() {
        let t = topics(&[("topic1", 3), ("topic2", 2)]);
        let m = members(vec![
            ("consumer1", subscription(&["topic1"])),
            ("consumer2", subscription(&["topic1", "topic2"])),
            ("consumer3", subscription(&["topic1"])),
        ]);
        let a = assign(&t, &m);
        assert_eq!(a["consumer1"], [tp("topic1", 0), tp("topic1", 2)]);
        assert_eq!(a["consumer2"], [tp("topic2", 0), tp("topic2", 1)]);
        assert_eq!(a["consumer3"], [tp("topic1", 1)]);
        settle(&t, m, a);
    }

    #[test]
    fn consumer_owning_min_quota_expected_max_quota() {
        let t = topics(&[("topic1", 2), ("topic2", 3)]);
        let both = ["topic1", "topic2"];
        let m = members(vec![
            (
                "consumer1",
                owning(&both, &[tp("topic1", 0), tp("topic2", 1)], GENERATION),
            ),
            (
                "consumer2",
                owning(&both, &[tp("topic1", 1), tp("topic2", 2)], GENERATION),
            ),
        ]);
        let a = assign(&t, &m);
        assert_eq!(
            a["consumer1"],
            [tp("topic1", 0), tp("topic2", 1), tp("topic2", 0)]
        );
        assert_eq!(a["consumer2"], [tp("topic1", 1), tp("topic2", 2)]);
        assert!(fully_balanced(&settle(&t, m, a)));
    }

    #[test]
    fn max_quota_owners_beyond_the_expected_number() {
        // Java (iterating consumer3, consumer2, consumer1) keeps consumer2's two partitions and
        // moves topic2-0 from consumer1; in id order consumer1 keeps its two and topic2-1 moves
        // from consumer2. Either way: one partition moves, to consumer3, after a revocation.
        let t = topics(&[("topic1", 2), ("topic2", 2)]);
        let both = ["topic1", "topic2"];
        let m = members(vec![
            (
                "consumer1",
                owning(&both, &[tp("topic1", 0), tp("topic2", 0)], GENERATION),
            ),
            (
                "consumer2",
                owning(&both, &[tp("topic1", 1), tp("topic2", 1)], GENERATION),
            ),
            ("consumer3", owning(&both, &[], GENERATION)),
        ]);
        let (_, transferring) = assign_sticky(&t, &m).unwrap();
        assert_eq!(
            transferring.unwrap(),
            HashMap::from([(tp("topic2", 1), "consumer3".to_string())])
        );
        let a = assign(&t, &m);
        assert_eq!(a["consumer1"], [tp("topic1", 0), tp("topic2", 0)]);
        assert_eq!(a["consumer2"], [tp("topic1", 1)]);
        assert_eq!(
            a["consumer3"],
            [],
            "topic2-1 waits for consumer2 to revoke it"
        );
        let a = settle(&t, m, a);
        assert_eq!(a["consumer3"], [tp("topic2", 1)]);
        assert!(fully_balanced(&a));
    }

    #[test]
    fn all_consumers_under_min_quota() {
        let t = topics(&[("topic1", 2), ("topic2", 3)]);
        let both = ["topic1", "topic2"];
        let m = members(vec![
            ("consumer1", owning(&both, &[tp("topic1", 0)], GENERATION)),
            ("consumer2", owning(&both, &[tp("topic1", 1)], GENERATION)),
            ("consumer3", owning(&both, &[], GENERATION)),
        ]);
        let (_, transferring) = assign_sticky(&t, &m).unwrap();
        assert!(transferring.unwrap().is_empty());
        let a = assign(&t, &m);
        assert_eq!(a["consumer1"], [tp("topic1", 0), tp("topic2", 1)]);
        assert_eq!(a["consumer2"], [tp("topic1", 1), tp("topic2", 2)]);
        assert_eq!(a["consumer3"], [tp("topic2", 0)]);
        settle(&t, m, a);
    }

    #[test]
    fn add_then_remove_a_consumer_of_one_topic() {
        let t = topics(&[("topic", 3)]);
        let m = members(vec![("consumer1", subscription(&["topic"]))]);
        let a = assign(&t, &m);
        assert_eq!(
            a["consumer1"],
            [tp("topic", 0), tp("topic", 1), tp("topic", 2)]
        );

        let m = members(vec![
            ("consumer1", owning(&["topic"], &a["consumer1"], GENERATION)),
            ("consumer2", owning(&["topic"], &[], GENERATION)),
        ]);
        let (_, transferring) = assign_sticky(&t, &m).unwrap();
        assert_eq!(
            transferring.unwrap(),
            HashMap::from([(tp("topic", 2), "consumer2".to_string())])
        );
        let a = settle(
            &t,
            m,
            assign(
                &t,
                &members(vec![
                    (
                        "consumer1",
                        owning(
                            &["topic"],
                            &[tp("topic", 0), tp("topic", 1), tp("topic", 2)],
                            GENERATION,
                        ),
                    ),
                    ("consumer2", owning(&["topic"], &[], GENERATION)),
                ]),
            ),
        );
        assert_eq!(a["consumer1"], [tp("topic", 0), tp("topic", 1)]);
        assert_eq!(a["consumer2"], [tp("topic", 2)]);

        // consumer1 leaves: consumer2 gets everything, nothing to revoke.
        let m = members(vec![(
            "consumer2",
            owning(&["topic"], &a["consumer2"], GENERATION),
        )]);
        let a = assign(&t, &m);
        assert_eq!(
            sorted(a["consumer2"].clone()),
            [tp("topic", 0), tp("topic", 1), tp("topic", 2)]
        );
    }

    #[test]
    fn all_consumers_reach_expected_quota() {
        let t = topics(&[("topic", 4)]);
        let m = members(vec![
            (
                "consumer1",
                owning(&["topic"], &[tp("topic", 0), tp("topic", 1)], GENERATION),
            ),
            (
                "consumer2",
                owning(&["topic"], &[tp("topic", 2)], GENERATION),
            ),
            ("consumer3", owning(&["topic"], &[], GENERATION)),
        ]);
        let a = assign(&t, &m);
        assert_eq!(a["consumer1"], [tp("topic", 0), tp("topic", 1)]);
        assert_eq!(a["consumer2"], [tp("topic", 2)]);
        assert_eq!(a["consumer3"], [tp("topic", 3)]);
    }

    #[test]
    fn owned_partitions_of_a_stale_generation_are_invalidated() {
        let t = topics(&[("topic", 3), ("topic2", 3)]);
        let both = ["topic", "topic2"];
        let owned = [tp("topic", 0), tp("topic", 2), tp("topic2", 1)];
        for stale in [9, NO_GENERATION] {
            let m = members(vec![
                ("consumer1", owning(&both, &owned, 10)),
                ("consumer2", owning(&both, &owned, stale)),
            ]);
            let a = assign(&t, &m);
            assert_eq!(sorted(a["consumer1"].clone()), sorted(owned.to_vec()));
            assert_eq!(
                sorted(a["consumer2"].clone()),
                [tp("topic", 1), tp("topic2", 0), tp("topic2", 2)]
            );
        }
    }

    #[test]
    fn a_partition_claimed_twice_in_one_generation_moves_after_revocation() {
        // testAllConsumersHaveOwnedPartitionInvalidatedWhenClaimedByMultipleConsumersInSameGeneration...
        let t = topics(&[("topic", 3)]);
        let m = members(vec![
            (
                "consumer1",
                owning(&["topic"], &[tp("topic", 0), tp("topic", 1)], GENERATION),
            ),
            (
                "consumer2",
                owning(&["topic"], &[tp("topic", 0), tp("topic", 2)], GENERATION),
            ),
            ("consumer3", owning(&["topic"], &[], GENERATION)),
        ]);
        let (_, transferring) = assign_sticky(&t, &m).unwrap();
        assert_eq!(
            transferring.unwrap(),
            HashMap::from([(tp("topic", 0), "consumer3".to_string())])
        );
        let a = assign(&t, &m);
        assert_eq!(a["consumer1"], [tp("topic", 1)]);
        assert_eq!(a["consumer2"], [tp("topic", 2)]);
        assert!(
            a["consumer3"].is_empty(),
            "topic-0 must be revoked by both first"
        );

        let t = topics(&[("topic", 4)]);
        let a = assign(&t, &m);
        assert_eq!(a["consumer1"], [tp("topic", 1), tp("topic", 3)]);
        assert_eq!(a["consumer2"], [tp("topic", 2)]);
        assert!(a["consumer3"].is_empty());
    }

    #[test]
    fn partitions_go_to_the_highest_generation() {
        let t = topics(&[("topic", 3), ("topic2", 3), ("topic3", 3)]);
        let all = ["topic", "topic2", "topic3"];
        let m = members(vec![
            (
                "consumer1",
                owning(
                    &all,
                    &[tp("topic", 0), tp("topic2", 0), tp("topic3", 0)],
                    10,
                ),
            ),
            (
                "consumer2",
                owning(&all, &[tp("topic", 1), tp("topic2", 1), tp("topic3", 1)], 9),
            ),
            (
                "consumer3",
                owning(
                    &all,
                    &[tp("topic2", 1), tp("topic3", 0), tp("topic3", 2)],
                    8,
                ),
            ),
        ]);
        let a = assign(&t, &m);
        assert_eq!(
            sorted(a["consumer1"].clone()),
            [tp("topic", 0), tp("topic2", 0), tp("topic3", 0)]
        );
        assert_eq!(
            sorted(a["consumer2"].clone()),
            [tp("topic", 1), tp("topic2", 1), tp("topic3", 1)]
        );
        assert_eq!(
            sorted(a["consumer3"].clone()),
            [tp("topic", 2), tp("topic2", 2), tp("topic3", 2)]
        );
    }

    #[test]
    fn old_version_subscriptions_carry_the_generation_in_user_data() {
        // testAssignorWithOldVersionSubscriptions: v1 subscriptions (no generation field, the
        // generation in the user data) next to a v2+ one.
        let t = topics(&[("topic1", 3)]);
        let v1 = |owned: &[TopicPartition]| Subscription {
            owned_partitions: owned.to_vec(),
            user_data: Some(Bytes::copy_from_slice(&GENERATION.to_be_bytes())),
            ..subscription(&["topic1"])
        };
        let m = members(vec![
            ("consumer1", v1(&[tp("topic1", 0)])),
            ("consumer2", v1(&[tp("topic1", 1)])),
            ("consumer3", owning(&["topic1"], &[], GENERATION)),
        ]);
        let a = assign(&t, &m);
        assert_eq!(a["consumer1"], [tp("topic1", 0)]);
        assert_eq!(a["consumer2"], [tp("topic1", 1)]);
        assert_eq!(a["consumer3"], [tp("topic1", 2)]);
    }

    #[test]
    fn member_data_prefers_the_subscription_generation() {
        let s = Subscription {
            generation_id: 5,
            user_data: Some(Bytes::from_static(&[0, 0, 0, 4])),
            ..subscription(&["t"])
        };
        assert_eq!(member_data(&s).generation, Some(5));
        let s = Subscription {
            generation_id: NO_GENERATION,
            ..s
        };
        assert_eq!(member_data(&s).generation, Some(4));
        let s = Subscription {
            user_data: Some(Bytes::from_static(&[1])),
            ..s
        };
        assert_eq!(member_data(&s).generation, Some(NO_GENERATION));
        let s = Subscription {
            user_data: None,
            ..s
        };
        assert_eq!(member_data(&s).generation, None);
    }

    #[test]
    fn uniform_subscription_transfer_list() {
        // testUniformSubscriptionTransferOwnershipListIsRight without racks: nothing moves.
        let t = topics(&[("topic1", 4)]);
        let m = members(vec![
            (
                "c0",
                owning(&["topic1"], &[tp("topic1", 0), tp("topic1", 1)], GENERATION),
            ),
            (
                "c1",
                owning(&["topic1"], &[tp("topic1", 2), tp("topic1", 3)], GENERATION),
            ),
        ]);
        let (_, transferring) = assign_sticky(&t, &m).unwrap();
        assert!(transferring.unwrap().is_empty());
    }

    #[test]
    fn eight_partitions_two_members_then_one_leaves() {
        let t = topics(&[("t", 8)]);
        let m = members(vec![
            ("a", owning(&["t"], &[], NO_GENERATION)),
            ("b", owning(&["t"], &[], NO_GENERATION)),
        ]);
        let a = assign(&t, &m);
        assert_eq!((a["a"].len(), a["b"].len()), (4, 4));
        let m = members(vec![("b", owning(&["t"], &a["b"], 2))]);
        let a2 = assign(&t, &m);
        assert_eq!(
            sorted(a2["b"].clone()),
            (0..8).map(|p| tp("t", p)).collect::<Vec<_>>()
        );
        // A third member joins: two partitions move, each only after a revocation.
        let m = members(vec![
            ("a", owning(&["t"], &[], NO_GENERATION)),
            ("b", owning(&["t"], &a2["b"], 3)),
            ("c", owning(&["t"], &[], NO_GENERATION)),
        ]);
        let a3 = assign(&t, &m);
        assert!(a3["a"].is_empty() && a3["c"].is_empty(), "{a3:?}");
        let a3 = settle(&t, m, a3);
        assert!(fully_balanced(&a3), "{a3:?}");
    }

    #[test]
    fn stickiness_under_random_subscriptions_and_churn() {
        // A reduced testReassignmentWithRandomSubscriptionsAndChanges: every rebalance settles
        // to a valid, balanced assignment, and members keep what they may.
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let names: Vec<String> = (0..6).map(|i| format!("t{i}")).collect();
        let t: BTreeMap<String, i32> = names
            .iter()
            .map(|n| (n.clone(), rng.gen_range(1..6)))
            .collect();
        let mut owned: Assignment = BTreeMap::new();
        for round in 0..20 {
            let mut m = BTreeMap::new();
            for c in 0..rng.gen_range(1..6) {
                let subscribed: Vec<&str> = names
                    .iter()
                    .filter(|_| rng.gen_bool(0.5))
                    .map(String::as_str)
                    .collect();
                let subscribed = if subscribed.is_empty() {
                    vec!["t0"]
                } else {
                    subscribed
                };
                let member = format!("c{c}");
                let mine = owned.get(&member).cloned().unwrap_or_default();
                m.insert(member, owning(&subscribed, &mine, round));
            }
            let a = assign(&t, &m);
            owned = settle(&t, m, a);
        }
    }

    #[test]
    fn movements_prefer_moving_a_partition_back() {
        let mut mv = Movements::default();
        mv.moved(&tp("t", 0), "a", "b");
        // Moving a t-partition from b to a: move t-0 back instead of another.
        assert_eq!(
            mv.actual_partition_to_move(&tp("t", 5), "b", "a"),
            tp("t", 0)
        );
        mv.moved(&tp("t", 0), "b", "a");
        assert!(mv.of_partition.is_empty(), "a move back cancels the record");
        assert_eq!(
            mv.actual_partition_to_move(&tp("t", 5), "b", "a"),
            tp("t", 5)
        );
    }
}
