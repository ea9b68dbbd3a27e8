//! The paging state: opaque bytes the client sends back for the next page. It holds where the
//! last page stopped (the partition's key prefix and the last row's clustering, or that the
//! partition was finished), how many rows the query has returned so far (for LIMIT) and how
//! many in that partition (for PER PARTITION LIMIT), so a resumed query returns each row once.
//!
//! Layout: version (1) ‖ prefix length (u32) ‖ prefix ‖ kind (0 partition done, 1 after a
//! row) ‖ clustering length (u32) ‖ clustering ‖ rows returned (u64) ‖ rows returned in the
//! partition (u64).

use bytes::{BufMut, Bytes, BytesMut};

use crate::api::Error;

const VERSION: u8 = 1;

/// Where a page stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Position {
    /// Every row of the partition has been returned.
    PartitionDone,
    /// Rows up to this clustering (in the query's direction) have been returned.
    AfterRow(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PagingState {
    pub prefix: Vec<u8>,
    pub position: Position,
    pub returned: u64,
    pub returned_in_partition: u64,
}

fn bad() -> Error {
    Error::Invalid("Invalid value for the paging state".into())
}

impl PagingState {
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::new();
        out.put_u8(VERSION);
        out.put_u32(self.prefix.len() as u32);
        out.put_slice(&self.prefix);
        match &self.position {
            Position::PartitionDone => {
                out.put_u8(0);
                out.put_u32(0);
            }
            Position::AfterRow(c) => {
                out.put_u8(1);
                out.put_u32(c.len() as u32);
                out.put_slice(c);
            }
        }
        out.put_u64(self.returned);
        out.put_u64(self.returned_in_partition);
        out.freeze()
    }

    pub fn decode(bytes: &[u8]) -> Result<PagingState, Error> {
        let mut r = bytes;
        let mut take = |n: usize| -> Result<&[u8], Error> {
            if r.len() < n {
                return Err(bad());
            }
            let (head, rest) = r.split_at(n);
            r = rest;
            Ok(head)
        };
        let u32_of = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
        if take(1)?[0] != VERSION {
            return Err(bad());
        }
        let n = u32_of(take(4)?);
        let prefix = take(n)?.to_vec();
        let kind = take(1)?[0];
        let n = u32_of(take(4)?);
        let clustering = take(n)?.to_vec();
        let position = match kind {
            0 => Position::PartitionDone,
            1 => Position::AfterRow(clustering),
            _ => return Err(bad()),
        };
        let u64_of = |b: &[u8]| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_be_bytes(a)
        };
        let returned = u64_of(take(8)?);
        let returned_in_partition = u64_of(take(8)?);
        if !r.is_empty() {
            return Err(bad());
        }
        Ok(PagingState {
            prefix,
            position,
            returned,
            returned_in_partition,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_states_round_trip_and_reject_garbage() {
        for position in [
            Position::PartitionDone,
            Position::AfterRow(vec![1, 2, 0, 0]),
        ] {
            let s = PagingState {
                prefix: vec![9; 11],
                position,
                returned: 300,
                returned_in_partition: 7,
            };
            assert_eq!(PagingState::decode(&s.encode()).unwrap(), s);
        }
        assert!(PagingState::decode(&[]).is_err());
        assert!(PagingState::decode(&[1, 0, 0, 0, 9]).is_err());
        assert!(PagingState::decode(&[2]).is_err());
    }
}
