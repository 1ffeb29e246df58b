//! The market client behind a node that caps `eth_getLogs` at 1,000 blocks, as public RPCs
//! do: reading a sale or a job scans events from the deployment block in pages.

use alara_chain::testing::TestChain;
use alara_market::contract::{SaleState, Token};
use alara_market::ListingTerms;
use alloy::primitives::U256;

use crate::support::*;

const KEY: [u8; 32] = [0x11; 32];

fn envelope() -> Vec<u8> {
    vec![0x42; 200]
}

#[tokio::test]
async fn sales_and_listings_are_read_through_a_capped_eth_get_logs() {
    let chain = TestChain::embedded_capped(1_000).await.unwrap();
    // 2,500 blocks before the market exists: a scan from block 0 would exceed the cap.
    chain.mine_blocks(2_500).await.unwrap();
    let m = Market::on(chain).await;
    let (seller, buyer) = (m.client(SELLER).await, m.client(BUYER).await);
    // Every block is a second past its parent: the 1,200 blocks between the sale and its
    // delivery take 1,200 s of chain time, so the window covers them.
    let terms = ListingTerms { delivery_window: 3_600, ..terms(Token::Eth, 1_000_000) };
    let listing = seller.list(&terms).await.unwrap().value;
    m.chain.mine_blocks(1_500).await.unwrap();
    let sale = buyer.buy(listing, KEY).await.unwrap().value;
    m.chain.mine_blocks(1_200).await.unwrap();
    seller.deliver(sale, envelope()).await.unwrap();

    let l = buyer.listing(listing).await.unwrap();
    assert_eq!(l.seller, addr(SELLER));
    let s = buyer.sale(sale).await.unwrap();
    assert_eq!(
        (s.state, s.buyer, s.amount),
        (SaleState::Delivered, addr(BUYER), U256::from(1_000_000))
    );
    assert_eq!(s.envelope.map(|b| b.to_vec()), Some(envelope()));
}
