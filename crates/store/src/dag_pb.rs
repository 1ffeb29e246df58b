//! dag-pb (codec 0x70): the Protocol Buffers node format of UnixFS, per the IPLD dag-pb
//! spec. Encoding is canonical (links, then data); decoding is strict about field order
//! and unknown fields, as go-codec-dagpb and js `@ipld/dag-pb` are.

use cid::Cid;

use crate::pb::{self, Field, Fields};

/// Multicodec code of dag-pb.
pub const DAG_PB: u64 = 0x70;
/// Multicodec code of raw blocks.
pub const RAW: u64 = 0x55;

/// A link from one dag-pb node to another block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PbLink {
    /// The linked block.
    pub hash: Cid,
    /// The link's name; file chunks have the empty name `Some("")`, as Kubo writes them.
    pub name: Option<String>,
    /// Cumulative size of the linked block and everything under it.
    pub tsize: Option<u64>,
}

/// A dag-pb node: links and an opaque data field (UnixFS puts its message there).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PbNode {
    /// Links, in order.
    pub links: Vec<PbLink>,
    /// The data field, if present.
    pub data: Option<Vec<u8>>,
}

impl PbNode {
    /// Encodes the node canonically.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            self.links.len() * 48 + self.data.as_ref().map_or(0, |d| d.len() + 4),
        );
        let mut link_buf = Vec::with_capacity(64);
        for link in &self.links {
            link_buf.clear();
            pb::put_bytes(&mut link_buf, 1, &link.hash.to_bytes());
            if let Some(name) = &link.name {
                pb::put_bytes(&mut link_buf, 2, name.as_bytes());
            }
            if let Some(tsize) = link.tsize {
                pb::put_uint(&mut link_buf, 3, tsize);
            }
            pb::put_bytes(&mut out, 2, &link_buf);
        }
        if let Some(data) = &self.data {
            pb::put_bytes(&mut out, 1, data);
        }
        out
    }

    /// Decodes a node. Errors say what is wrong; nothing here panics on any input.
    pub fn decode(buf: &[u8]) -> Result<Self, String> {
        let mut node = PbNode::default();
        for field in Fields::new(buf) {
            match field? {
                Field::Bytes(2, link) => {
                    if node.data.is_some() {
                        return Err("link after the data field (not canonical dag-pb)".into());
                    }
                    node.links.push(decode_link(link)?);
                }
                Field::Bytes(1, data) => {
                    if node.data.is_some() {
                        return Err("data field appears twice".into());
                    }
                    node.data = Some(data.to_vec());
                }
                Field::Bytes(f, _) | Field::Varint(f, _) => {
                    return Err(format!("unexpected field {f} in PBNode"));
                }
            }
        }
        Ok(node)
    }
}

fn decode_link(buf: &[u8]) -> Result<PbLink, String> {
    let mut hash = None;
    let mut name = None;
    let mut tsize = None;
    let mut last = 0;
    for field in Fields::new(buf) {
        let field = field?;
        let num = match &field {
            Field::Bytes(n, _) | Field::Varint(n, _) => *n,
        };
        if num <= last {
            return Err(format!("PBLink field {num} out of order or repeated"));
        }
        last = num;
        match field {
            Field::Bytes(1, bytes) => {
                let cid =
                    Cid::try_from(bytes).map_err(|e| format!("link hash is not a CID: {e}"))?;
                hash = Some(cid);
            }
            Field::Bytes(2, bytes) => {
                name =
                    Some(String::from_utf8(bytes.to_vec()).map_err(|_| "link name is not UTF-8")?);
            }
            Field::Varint(3, v) => tsize = Some(v),
            Field::Bytes(f, _) | Field::Varint(f, _) => {
                return Err(format!("unexpected field {f} in PBLink"));
            }
        }
    }
    let hash = hash.ok_or("link without a hash")?;
    Ok(PbLink { hash, name, tsize })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cid::multihash::Multihash;
    use proptest::prelude::*;

    fn cid_strategy() -> impl Strategy<Value = Cid> {
        (any::<[u8; 32]>(), any::<bool>(), prop_oneof![Just(DAG_PB), Just(RAW)]).prop_map(
            |(digest, v0, codec)| {
                let mh = Multihash::<64>::wrap(0x12, &digest).unwrap_or_default();
                if v0 {
                    Cid::new_v0(mh).unwrap_or_default()
                } else {
                    Cid::new_v1(codec, mh)
                }
            },
        )
    }

    #[test]
    fn empty_file_leaf_matches_kubo_bytes() {
        // Kubo's empty file, QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH.
        let node = PbNode { links: vec![], data: Some(vec![0x08, 0x02, 0x18, 0x00]) };
        assert_eq!(node.encode(), [0x0a, 0x04, 0x08, 0x02, 0x18, 0x00]);
    }

    #[test]
    fn rejects_data_before_links_and_unknown_fields() {
        let mut buf = Vec::new();
        pb::put_bytes(&mut buf, 1, b"x");
        let link = PbNode {
            links: vec![PbLink { hash: Cid::default(), name: None, tsize: None }],
            data: None,
        }
        .encode();
        buf.extend_from_slice(&link);
        assert!(PbNode::decode(&buf).unwrap_err().contains("after the data"));
        let mut unknown = Vec::new();
        pb::put_uint(&mut unknown, 7, 1);
        assert!(PbNode::decode(&unknown).unwrap_err().contains("unexpected field 7"));
    }

    proptest! {
        #[test]
        fn roundtrip(
            links in proptest::collection::vec(
                (cid_strategy(), proptest::option::of("[a-z]{0,8}"), proptest::option::of(any::<u64>())),
                0..8,
            ),
            data in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
        ) {
            let node = PbNode {
                links: links.into_iter().map(|(hash, name, tsize)| PbLink { hash, name, tsize }).collect(),
                data,
            };
            let bytes = node.encode();
            prop_assert_eq!(PbNode::decode(&bytes), Ok(node));
        }

        #[test]
        fn decode_never_panics(buf in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = PbNode::decode(&buf);
        }
    }
}
