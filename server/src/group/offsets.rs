//! Committed offsets in the internal, compacted `__consumer_offsets` topic, in Kafka's record
//! format, so the topic reads as Kafka's does:
//!
//! - key (`OffsetCommitKey` v1): `i16 version = 1, string group, string topic, i32 partition`;
//! - value (`OffsetCommitValue` v3): `i16 version = 3, i64 offset, i32 leader_epoch,
//!   string metadata, i64 commit_timestamp`; a null value (tombstone) removes the offset.
//!
//! Strings are `i16` length + UTF-8. Group-metadata records (key version 2) are not written:
//! membership is rebuilt by the members rejoining after a restart, and a coordinator that meets
//! one skips it. A group lives in partition `abs(java_string_hash(group)) % partitions`, as in
//! Kafka, so the same group maps to the same partition on every broker.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// An offset a group committed for one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    /// The next offset the group will consume.
    pub offset: i64,
    /// The leader epoch of the last consumed record (-1 if unknown).
    pub leader_epoch: i32,
    /// The client's metadata string.
    pub metadata: String,
    /// When the commit was made (ms since the epoch).
    pub commit_timestamp_ms: i64,
}

/// A decoded `__consumer_offsets` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OffsetRecord {
    /// An offset committed (`Some`) or removed (`None`, a tombstone).
    Offset {
        group: String,
        topic: String,
        partition: i32,
        value: Option<CommittedOffset>,
    },
    /// A record this broker does not use (group metadata, or a newer schema).
    Other,
}

const OFFSET_KEY_VERSION: i16 = 1;
const OFFSET_VALUE_VERSION: i16 = 3;

/// The partition of `__consumer_offsets` that holds `group` (Kafka's
/// `Utils.abs(groupId.hashCode) % partitions`).
pub fn partition_for(group: &str, partitions: i32) -> i32 {
    let hash = group.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    });
    // Kafka's Utils.abs maps i32::MIN to 0, not to itself.
    let positive = if hash == i32::MIN { 0 } else { hash.abs() };
    positive % partitions.max(1)
}

fn put_string(buf: &mut BytesMut, s: &str) {
    let len = i16::try_from(s.len()).unwrap_or(i16::MAX);
    buf.put_i16(len);
    buf.put_slice(&s.as_bytes()[..len as usize]);
}

/// The key of an offset record.
pub fn encode_key(group: &str, topic: &str, partition: i32) -> Bytes {
    let mut buf = BytesMut::with_capacity(10 + group.len() + topic.len());
    buf.put_i16(OFFSET_KEY_VERSION);
    put_string(&mut buf, group);
    put_string(&mut buf, topic);
    buf.put_i32(partition);
    buf.freeze()
}

/// The value of an offset record.
pub fn encode_value(offset: &CommittedOffset) -> Bytes {
    let mut buf = BytesMut::with_capacity(26 + offset.metadata.len());
    buf.put_i16(OFFSET_VALUE_VERSION);
    buf.put_i64(offset.offset);
    buf.put_i32(offset.leader_epoch);
    put_string(&mut buf, &offset.metadata);
    buf.put_i64(offset.commit_timestamp_ms);
    buf.freeze()
}

fn get_string(buf: &mut &[u8]) -> Result<String, String> {
    if buf.remaining() < 2 {
        return Err("truncated string length".to_string());
    }
    let len = buf.get_i16();
    let len = usize::try_from(len).map_err(|_| format!("negative string length {len}"))?;
    if buf.remaining() < len {
        return Err(format!("string of {len} bytes, {} left", buf.remaining()));
    }
    let s = String::from_utf8(buf[..len].to_vec()).map_err(|e| e.to_string())?;
    buf.advance(len);
    Ok(s)
}

fn need(buf: &[u8], n: usize, what: &str) -> Result<(), String> {
    if buf.len() < n {
        return Err(format!("truncated {what}"));
    }
    Ok(())
}

/// Decode one record of `__consumer_offsets`.
pub fn decode(key: &[u8], value: Option<&[u8]>) -> Result<OffsetRecord, String> {
    let mut k = key;
    need(k, 2, "key version")?;
    let version = k.get_i16();
    if !(0..=1).contains(&version) {
        return Ok(OffsetRecord::Other);
    }
    let group = get_string(&mut k)?;
    let topic = get_string(&mut k)?;
    need(k, 4, "partition")?;
    let partition = k.get_i32();
    let value = match value {
        None => None,
        Some(mut v) => {
            need(v, 2, "value version")?;
            let version = v.get_i16();
            need(v, 8, "offset")?;
            let offset = v.get_i64();
            let leader_epoch = if version >= 3 {
                need(v, 4, "leader epoch")?;
                v.get_i32()
            } else {
                -1
            };
            let metadata = get_string(&mut v)?;
            need(v, 8, "commit timestamp")?;
            let commit_timestamp_ms = v.get_i64();
            Some(CommittedOffset {
                offset,
                leader_epoch,
                metadata,
                commit_timestamp_ms,
            })
        }
    };
    Ok(OffsetRecord::Offset {
        group,
        topic,
        partition,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let offset = CommittedOffset {
            offset: 42,
            leader_epoch: 0,
            metadata: "meta".to_string(),
            commit_timestamp_ms: 1_700_000_000_000,
        };
        let key = encode_key("group-1", "orders", 7);
        let value = encode_value(&offset);
        assert_eq!(
            decode(&key, Some(&value)).unwrap(),
            OffsetRecord::Offset {
                group: "group-1".into(),
                topic: "orders".into(),
                partition: 7,
                value: Some(offset)
            }
        );
        assert!(matches!(
            decode(&key, None).unwrap(),
            OffsetRecord::Offset { value: None, .. }
        ));
        // A group-metadata key (version 2) is skipped, and garbage is an error.
        assert_eq!(
            decode(&[0, 2, 0, 1, b'g'], None).unwrap(),
            OffsetRecord::Other
        );
        assert!(decode(&key[..key.len() - 2], None).is_err());
        assert!(decode(&key, Some(&value[..5])).is_err());
    }

    #[test]
    fn key_bytes_are_kafkas() {
        assert_eq!(
            &encode_key("g", "t", 1)[..],
            &[0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 1]
        );
    }

    #[test]
    fn partition_is_javas_string_hash_modulo() {
        // "test-group".hashCode() in Java is 627841412 (31-based over UTF-16 units).
        assert_eq!(partition_for("test-group", 50), 627_841_412 % 50);
        assert_eq!(partition_for("", 50), 0);
        // A hash of i32::MIN maps to partition 0, as Kafka's Utils.abs does.
        assert_eq!(partition_for("polygenelubricants", 50), 0);
        for g in ["a", "console-consumer-1", "ü-group"] {
            assert!((0..50).contains(&partition_for(g, 50)));
        }
    }
}
