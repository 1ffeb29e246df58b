//! ProvenanceNFT and NftMarket on every backend: every external function, and every attack
//! by the error that stops it — front-running a prompt (copied commitment, copied mint
//! calldata, a commit and mint in one block), a reveal that does not match, listings of
//! tokens one does not own or has not approved, a stale listing, wrong payments, a double
//! buy, re-entry from an ERC-721 receiver and from a royalty receiver, an over-greedy
//! royalty; and the royalty paid exactly on resale.

use alloy::primitives::{aliases::U96, Address, Bytes, B256, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::sol_types::{SolCall, SolInterface, SolValue};

use alara_chain::testing::{backends, Backend, TestChain};
use alara_contracts::call::{send, CallError};
use alara_contracts::NftAttacker::{self, NftAttackerInstance};
use alara_contracts::NftMarket::NftMarketErrors;
use alara_contracts::ProvenanceNFT::{self, MintRequest, ProvenanceNFTErrors};
use alara_contracts::{AlaraToken, GreedyRoyaltyERC721, PlainERC721};
use alara_nft::chain::{commitment_of, Collection, Market};
use alara_nft::provenance::prompt_commitment;
use alara_nft::Error;

const ETHER: u128 = 1_000_000_000_000_000_000;

fn eth(milli: u128) -> U256 {
    U256::from(milli * ETHER / 1000)
}

async fn start(backend: Backend) -> TestChain {
    TestChain::start(backend).await.unwrap_or_else(|e| {
        panic!("{backend} did not start: {e} (anvil comes from node_modules: run `npm ci`)")
    })
}

fn who(i: usize) -> Address {
    alara_chain::dev::dev_addresses()[i]
}

const SALT: [u8; 32] = [7; 32];

/// A mint request for image `n` of the prompt `prompt`.
fn request(prompt: &str, n: u64) -> MintRequest {
    MintRequest {
        modelHash: B256::repeat_byte(0x11),
        promptCommitment: B256::from(prompt_commitment(&SALT, prompt)),
        seed: n,
        royaltyBps: U96::from(1000),
        imageHash: B256::from(U256::from(0xbeef_0000 + n)),
        imageCid: format!("bafkreiimage{n}"),
        metadataCid: format!("bafkreimeta{n}"),
    }
}

/// The named ProvenanceNFT error of a refused call.
fn nft_err(e: &Error) -> ProvenanceNFTErrors {
    let data = match e {
        Error::Contract(c) => c.revert_data().unwrap_or_else(|| panic!("not a revert: {e}")),
        other => panic!("not a contract error: {other}"),
    };
    ProvenanceNFTErrors::abi_decode(data).unwrap_or_else(|_| panic!("no ProvenanceNFT error: {e}"))
}

/// The named NftMarket error of a refused call.
fn market_err(e: &Error) -> NftMarketErrors {
    let data = match e {
        Error::Contract(c) => c.revert_data().unwrap_or_else(|| panic!("not a revert: {e}")),
        other => panic!("not a contract error: {other}"),
    };
    NftMarketErrors::abi_decode(data).unwrap_or_else(|_| panic!("no NftMarket error: {e}"))
}

fn call_err(e: &CallError) -> Bytes {
    e.revert_data().unwrap_or_else(|| panic!("not a revert: {e}")).clone()
}

struct World {
    chain: TestChain,
    nft: Collection<DynProvider>,
    market: Market<DynProvider>,
}

impl World {
    async fn new(backend: Backend) -> World {
        let chain = start(backend).await;
        let nft = Collection::deploy(chain.provider(0)).await.unwrap();
        let market = Market::deploy(chain.provider(0)).await.unwrap();
        World { chain, nft, market }
    }

    /// Mines an empty block (the dev chains mine only on transactions), so a mint
    /// simulated against the latest block is past its commit's block.
    async fn next_block(&self) {
        use alloy::providers::Provider;
        self.chain
            .provider(0)
            .raw_request::<_, serde_json::Value>("evm_mine".into(), ())
            .await
            .unwrap();
    }

    fn nft_as(&self, i: usize) -> Collection<DynProvider> {
        Collection::at(self.chain.provider(i), self.nft.address())
    }

    fn market_as(&self, i: usize) -> Market<DynProvider> {
        self.market.as_(self.chain.provider(i))
    }

    /// Account `i` commits and mints `r`; the token id.
    async fn mint(&self, i: usize, r: &MintRequest) -> U256 {
        let nft = self.nft_as(i);
        nft.commit_and_mint(who(i), r, std::time::Duration::from_secs(30)).await.unwrap().token_id
    }

    async fn attacker(&self, i: usize) -> NftAttackerInstance<DynProvider> {
        NftAttacker::deploy(self.chain.provider(i), self.nft.address(), self.market.address())
            .await
            .unwrap()
    }
}

fn attacker_request(r: &MintRequest) -> alara_contracts::IProvenanceNFT::MintRequest {
    alara_contracts::IProvenanceNFT::MintRequest {
        modelHash: r.modelHash,
        promptCommitment: r.promptCommitment,
        seed: r.seed,
        royaltyBps: r.royaltyBps,
        imageHash: r.imageHash,
        imageCid: r.imageCid.clone(),
        metadataCid: r.metadataCid.clone(),
    }
}

/// ERC-165 ids (ERC-721, its metadata, ERC-2981, ERC-7007 = addAigcData ^ verify =
/// 0x702c55a6), tokenURI, the artwork record, the Rust commitment against the contract's,
/// and the 10% royalty reported by `royaltyInfo`.
#[tokio::test]
async fn interfaces_records_and_commitment_agree() {
    use ProvenanceNFT::{addAigcDataCall, verifyCall};
    let erc7007 =
        u32::from_be_bytes(addAigcDataCall::SELECTOR) ^ u32::from_be_bytes(verifyCall::SELECTOR);
    assert_eq!(erc7007, 0x702c_55a6, "ERC-7007's interface id from its two functions");
    for backend in backends() {
        let w = World::new(backend).await;
        for (id, want) in [
            (0x80ac_58cd_u32, true),
            (0x5b5e_139f, true),
            (0x2a55_205a, true),
            (0x01ff_c9a7, true),
            (erc7007, true),
            (0xdead_beef, false),
        ] {
            let got = w.nft.c.supportsInterface(id.to_be_bytes().into()).call().await.unwrap();
            assert_eq!(got, want, "[{backend}] interface {id:#010x}");
        }
        let r = request("dawn", 1);
        let onchain = w.nft.c.commitmentOf(who(1), r.clone()).call().await.unwrap();
        assert_eq!(onchain, commitment_of(who(1), &r), "[{backend}] commitmentOf");
        let token = w.mint(1, &r).await;
        assert_eq!(token, U256::from(1));
        assert_eq!(w.nft.c.tokenURI(token).call().await.unwrap(), "ipfs://bafkreimeta1");
        let art = w.nft.artwork(token).await.unwrap();
        assert_eq!(
            (
                art.artist,
                art.seed,
                art.modelHash,
                art.promptCommitment,
                art.imageHash,
                art.promptRevealed
            ),
            (who(1), 1, r.modelHash, r.promptCommitment, r.imageHash, false)
        );
        assert_eq!(art.imageCid, r.imageCid);
        assert_eq!(w.nft.owner_of(token).await.unwrap(), who(1));
        assert_eq!(w.nft.c.tokenOfImage(r.imageHash).call().await.unwrap(), token);
        let info = w.nft.c.royaltyInfo(token, eth(1000)).call().await.unwrap();
        assert_eq!(
            (info.receiver, info.amount),
            (who(1), eth(100)),
            "[{backend}] 10% to the artist"
        );
        let e = w.nft.artwork(U256::from(9)).await.unwrap_err();
        assert!(matches!(nft_err(&e), ProvenanceNFTErrors::UnknownToken(_)), "[{backend}] {e}");
    }
}

/// A watcher of the mempool cannot take a prompt: minting without a commitment, with a
/// commitment copied into its own name, with the artist's mint calldata copied, or with a
/// commit and a mint in one block all revert; so do a stale commitment, a second commit, a
/// second mint of one commitment, a second token of one image, a royalty above 25%, zero
/// hashes and bad CIDs. The artist's own mint in a later block succeeds.
#[tokio::test]
async fn front_running_and_bad_mints_are_refused() {
    use ProvenanceNFTErrors as E;
    for backend in backends() {
        let w = World::new(backend).await;
        let (artist, watcher) = (w.nft_as(1), w.nft_as(2));
        let r = request("a lighthouse in a storm", 1);

        // No commitment at all.
        assert!(matches!(nft_err(&artist.mint(&r).await.unwrap_err()), E::NoCommitment(_)));

        // The artist commits; the watcher sees the commitment and commits it too (its own
        // namespace: allowed, and useless).
        let (c, _) = artist.commit(who(1), &r).await.unwrap();
        send("commit", &watcher.c.commit(c), &[]).await.unwrap();
        match nft_err(&watcher.mint(&r).await.unwrap_err()) {
            E::NoCommitment(x) => {
                assert_eq!(x.minter, who(2));
                assert_eq!(
                    x.commitment,
                    commitment_of(who(2), &r),
                    "[{backend}] recomputed for the copier"
                );
            }
            other => panic!("[{backend}] copied commitment: {other:?}"),
        }
        // The watcher replays the artist's mint calldata byte for byte.
        let calldata = ProvenanceNFT::mintCall { request: r.clone() }.abi_encode();
        let tx = alloy::rpc::types::TransactionRequest::default()
            .from(who(2))
            .to(w.nft.address())
            .input(calldata.into());
        let e = w.chain.provider(2).call(tx).await.unwrap_err();
        let data = e.as_error_resp().and_then(|r| r.as_revert_data()).unwrap();
        assert!(
            matches!(E::abi_decode(&data).unwrap(), E::NoCommitment(_)),
            "[{backend}] copied calldata"
        );

        // A front-runner that commits and mints in one transaction: too fresh.
        let attacker = w.attacker(3).await;
        let stolen = request("a lighthouse in a storm", 2);
        let ca = commitment_of(*attacker.address(), &stolen);
        let e = send("commitAndMint", &attacker.commitAndMint(ca, attacker_request(&stolen)), &[])
            .await
            .unwrap_err();
        match E::abi_decode(&call_err(&e)).unwrap() {
            E::CommitmentTooFresh(x) => assert_eq!(U256::from(x.committed), x.current),
            other => panic!("[{backend}] same block: {other:?}"),
        }

        // The same commitment twice.
        match nft_err(&artist.commit(who(1), &r).await.unwrap_err()) {
            E::AlreadyCommitted(x) => assert_eq!(x.commitment, c),
            other => panic!("[{backend}] second commit: {other:?}"),
        }
        // The artist mints in a later block; the commitment is then spent.
        let (token, receipt) = artist.mint(&r).await.unwrap();
        assert!(receipt.status());
        assert!(matches!(nft_err(&artist.mint(&r).await.unwrap_err()), E::NoCommitment(_)));
        assert_eq!(w.nft.c.committedAt(who(1), c).call().await.unwrap(), 0);
        // The same image again, under a fresh commitment (another seed field would be a
        // different request; here the same request is re-committed).
        artist.commit(who(1), &r).await.unwrap();
        w.next_block().await;
        match nft_err(&artist.mint(&r).await.unwrap_err()) {
            E::ImageAlreadyMinted(x) => assert_eq!(x.tokenId, token),
            other => panic!("[{backend}] same image: {other:?}"),
        }

        // A commitment older than COMMITMENT_TTL blocks.
        let old = request("an old idea", 3);
        artist.commit(who(1), &old).await.unwrap();
        w.chain.mine_blocks(257).await.unwrap();
        assert!(matches!(nft_err(&artist.mint(&old).await.unwrap_err()), E::CommitmentExpired(_)));

        // Royalty above the maximum, zero hashes, bad CIDs: each committed first.
        let mut greedy = request("greedy", 4);
        greedy.royaltyBps = U96::from(2501);
        let mut zero = request("zero", 5);
        zero.modelHash = B256::ZERO;
        let mut empty = request("empty", 6);
        empty.imageCid = String::new();
        let mut long = request("long", 7);
        long.metadataCid = "b".repeat(129);
        for bad in [&greedy, &zero, &empty, &long] {
            artist.commit(who(1), bad).await.unwrap();
        }
        w.next_block().await;
        match nft_err(&artist.mint(&greedy).await.unwrap_err()) {
            E::RoyaltyTooHigh(x) => assert_eq!((x.bps, x.max), (U96::from(2501), U96::from(2500))),
            other => panic!("[{backend}] royalty: {other:?}"),
        }
        assert!(matches!(nft_err(&artist.mint(&zero).await.unwrap_err()), E::ZeroHash(_)));
        match nft_err(&artist.mint(&empty).await.unwrap_err()) {
            E::InvalidCid(x) => assert_eq!(x.length, U256::ZERO),
            other => panic!("[{backend}] empty cid: {other:?}"),
        }
        match nft_err(&artist.mint(&long).await.unwrap_err()) {
            E::InvalidCid(x) => assert_eq!(x.length, U256::from(129)),
            other => panic!("[{backend}] long cid: {other:?}"),
        }
        let e = send("commit", &artist.c.commit(B256::ZERO), &[]).await.unwrap_err();
        assert!(matches!(E::abi_decode(&call_err(&e)).unwrap(), E::ZeroHash(_)));
        assert_eq!(w.nft.c.totalMinted().call().await.unwrap(), U256::from(1), "[{backend}]");
    }
}

/// `revealPrompt` and ERC-7007's `addAigcData`/`verify`: a wrong prompt, a wrong salt, the
/// wrong image and a proof naming another token are refused; the right prompt is revealed
/// once, with `PromptRevealed` and `AigcData`.
#[tokio::test]
async fn reveals_must_match_the_commitment() {
    use ProvenanceNFTErrors as E;
    for backend in backends() {
        let w = World::new(backend).await;
        let prompt = "a red fox at dawn";
        let a = w.mint(1, &request(prompt, 1)).await;
        let b = w.mint(1, &request("another", 2)).await;
        let image = Bytes::from(request(prompt, 1).imageHash.to_vec());
        let proof = |token: U256, salt: [u8; 32]| {
            Bytes::from((token, B256::from(salt)).abi_encode_params())
        };
        let verify = |p: &str, img: &Bytes, proof: Bytes| {
            let c = w.nft.c.clone();
            let (p, img) = (Bytes::from(p.as_bytes().to_vec()), img.clone());
            async move { c.verify(p, img, proof).call().await.unwrap() }
        };
        assert!(verify(prompt, &image, proof(a, SALT)).await, "[{backend}] the right triple");
        assert!(!verify("a red fox at dusk", &image, proof(a, SALT)).await);
        assert!(!verify(prompt, &image, proof(a, [8; 32])).await);
        assert!(!verify(prompt, &Bytes::from(vec![0u8; 32]), proof(a, SALT)).await);
        assert!(!verify(prompt, &image, proof(U256::from(99), SALT)).await);
        assert!(!verify(prompt, &image, Bytes::from(vec![1, 2, 3])).await);

        for (p, salt) in [("a red fox at dusk", SALT), (prompt, [8; 32])] {
            match nft_err(&w.nft_as(2).reveal(a, p, salt).await.unwrap_err()) {
                E::ProofMismatch(x) => assert_eq!(x.tokenId, a),
                other => panic!("[{backend}] bad reveal: {other:?}"),
            }
        }
        // A valid proof of token `a`, presented as token `b`'s data.
        let call = w.nft.c.addAigcData(
            b,
            prompt.as_bytes().to_vec().into(),
            image.clone(),
            proof(a, SALT),
        );
        let e = send("addAigcData", &call, &[]).await.unwrap_err();
        assert!(
            matches!(E::abi_decode(&call_err(&e)).unwrap(), E::ProofMismatch(_)),
            "[{backend}]"
        );
        let long = "x".repeat(1001);
        assert!(matches!(
            nft_err(&w.nft.reveal(a, &long, SALT).await.unwrap_err()),
            E::PromptTooLong(_)
        ));
        assert!(matches!(
            nft_err(&w.nft.reveal(U256::from(9), prompt, SALT).await.unwrap_err()),
            E::UnknownToken(_)
        ));

        // Anyone holding prompt and salt may reveal: here a third account, through
        // ERC-7007's addAigcData.
        let third = w.nft_as(3);
        let call = third.c.addAigcData(
            a,
            prompt.as_bytes().to_vec().into(),
            image.clone(),
            proof(a, SALT),
        );
        let r = send("addAigcData", &call, &[]).await.unwrap();
        let revealed: ProvenanceNFT::PromptRevealed =
            alara_contracts::call::event_of(&r, w.nft.address(), "addAigcData").unwrap();
        assert_eq!((revealed.tokenId, revealed.prompt.as_str()), (a, prompt));
        let aigc: ProvenanceNFT::AigcData =
            alara_contracts::call::event_of(&r, w.nft.address(), "addAigcData").unwrap();
        assert_eq!(aigc.tokenId, a);
        assert_eq!(aigc.proof, proof(a, SALT));
        assert!(w.nft.artwork(a).await.unwrap().promptRevealed);
        assert_eq!(w.nft.revealed_prompt(a, 0).await.unwrap().as_deref(), Some(prompt));
        assert_eq!(w.nft.revealed_prompt(b, 0).await.unwrap(), None);
        assert!(matches!(
            nft_err(&w.nft.reveal(a, prompt, SALT).await.unwrap_err()),
            E::PromptAlreadyRevealed(_)
        ));
    }
}

/// A contract artist whose `onERC721Received` mints its request again: the re-entry fails
/// with ReentrancyGuardReentrantCall and one token exists.
#[tokio::test]
async fn reentrant_receiver_cannot_mint_twice() {
    for backend in backends() {
        let w = World::new(backend).await;
        let attacker = w.attacker(3).await;
        let r = request("mint me twice", 1);
        let c = commitment_of(*attacker.address(), &r);
        send("commit", &attacker.commit(c), &[]).await.unwrap();
        send("arm", &attacker.arm(1), &[]).await.unwrap(); // Mode.Mint
        send("mint", &attacker.mint(attacker_request(&r)), &[]).await.unwrap();
        assert_eq!(
            attacker.reentries().call().await.unwrap(),
            U256::from(1),
            "[{backend}] re-entered"
        );
        assert!(!attacker.reentrySucceeded().call().await.unwrap(), "[{backend}]");
        let data = attacker.reentryRevertData().call().await.unwrap();
        assert!(
            matches!(
                ProvenanceNFTErrors::abi_decode(&data).unwrap(),
                ProvenanceNFTErrors::ReentrancyGuardReentrantCall(_)
            ),
            "[{backend}]"
        );
        assert_eq!(w.nft.c.totalMinted().call().await.unwrap(), U256::from(1));
        assert_eq!(w.nft.owner_of(U256::from(1)).await.unwrap(), *attacker.address());
    }
}

/// The artist sells for 1 ETH (royalty to itself), the first buyer resells for 2 ETH: the
/// seller is credited exactly 1.8 ETH and the artist 0.2 ETH, each withdraws exactly that
/// (balances checked net of gas), and the buyer owns the token.
#[tokio::test]
async fn resale_pays_the_artist_ten_percent() {
    for backend in backends() {
        let w = World::new(backend).await;
        let (artist, b1, b2) = (1, 2, 3);
        let token = w.mint(artist, &request("royalty", 1)).await;
        w.nft_as(artist).approve(w.market.address(), token).await.unwrap();
        let l1 = w
            .market_as(artist)
            .list(w.nft.address(), token, Address::ZERO, eth(1000))
            .await
            .unwrap();
        let sale = w.market_as(b1).buy(l1, eth(1000)).await.unwrap();
        assert_eq!((sale.sold.royaltyReceiver, sale.sold.royalty), (who(artist), eth(100)));
        assert_eq!(w.market.owed(who(artist), Address::ZERO).await.unwrap(), eth(1000));

        w.nft_as(b1)
            .c
            .setApprovalForAll(w.market.address(), true)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        let l2 =
            w.market_as(b1).list(w.nft.address(), token, Address::ZERO, eth(2000)).await.unwrap();
        let sale = w.market_as(b2).buy(l2, eth(2000)).await.unwrap();
        assert_eq!(
            (sale.sold.seller, sale.sold.price, sale.sold.royaltyReceiver, sale.sold.royalty),
            (who(b1), eth(2000), who(artist), eth(200)),
            "[{backend}]"
        );
        assert_eq!(w.nft.owner_of(token).await.unwrap(), who(b2));
        assert_eq!(
            w.market.owed(who(b1), Address::ZERO).await.unwrap(),
            eth(1800),
            "[{backend}] price − 10%"
        );
        assert_eq!(
            w.market.owed(who(artist), Address::ZERO).await.unwrap(),
            eth(1200),
            "[{backend}] 1 + 10% of 2"
        );

        for (i, want) in [(b1, eth(1800)), (artist, eth(1200))] {
            let p = w.chain.provider(i);
            let before = p.get_balance(who(i)).await.unwrap();
            let (amount, r) = w.market_as(i).withdraw(Address::ZERO).await.unwrap();
            assert_eq!(amount, want);
            let fee = U256::from(r.gas_used) * U256::from(r.effective_gas_price);
            assert_eq!(
                p.get_balance(who(i)).await.unwrap(),
                before + want - fee,
                "[{backend}] account {i}"
            );
        }
        assert_eq!(w.chain.provider(0).get_balance(w.market.address()).await.unwrap(), U256::ZERO);
        let e = w.market_as(b1).withdraw(Address::ZERO).await.unwrap_err();
        assert!(matches!(market_err(&e), NftMarketErrors::NothingOwed(_)), "[{backend}]");
    }
}

/// Listing a token one does not own or has not approved, a zero price, cancelling someone
/// else's listing, buying an unknown, cancelled or already-sold listing (the double buy),
/// buying one's own, the wrong payment either way, a stale listing after the token moved,
/// and a listing whose approval was revoked.
#[tokio::test]
async fn market_refusals_are_named() {
    use NftMarketErrors as E;
    for backend in backends() {
        let w = World::new(backend).await;
        let nft = w.nft.address();
        let token = w.mint(1, &request("for sale", 1)).await;

        match market_err(
            &w.market_as(2).list(nft, token, Address::ZERO, eth(1000)).await.unwrap_err(),
        ) {
            E::NotTokenOwner(x) => assert_eq!((x.caller, x.owner), (who(2), who(1))),
            other => panic!("[{backend}] not owner: {other:?}"),
        }
        match market_err(
            &w.market_as(1).list(nft, token, Address::ZERO, eth(1000)).await.unwrap_err(),
        ) {
            E::MarketNotApproved(x) => assert_eq!((x.owner, x.tokenId), (who(1), token)),
            other => panic!("[{backend}] not approved: {other:?}"),
        }
        w.nft_as(1).approve(w.market.address(), token).await.unwrap();
        assert!(matches!(
            market_err(
                &w.market_as(1).list(nft, token, Address::ZERO, U256::ZERO).await.unwrap_err()
            ),
            E::ZeroPrice(_)
        ));
        let l = w.market_as(1).list(nft, token, Address::ZERO, eth(1000)).await.unwrap();
        assert!(matches!(
            market_err(&w.market_as(2).cancel(l).await.unwrap_err()),
            E::NotSeller(_)
        ));
        assert!(matches!(
            market_err(&w.market_as(2).buy(U256::from(99), eth(1000)).await.unwrap_err()),
            E::UnknownListing(_)
        ));
        assert!(matches!(
            market_err(&w.market_as(1).buy(l, eth(1000)).await.unwrap_err()),
            E::SellerIsBuyer(_)
        ));
        for paid in [eth(999), eth(1001), U256::ZERO] {
            match market_err(&w.market_as(2).buy(l, paid).await.unwrap_err()) {
                E::WrongPayment(x) => assert_eq!((x.expected, x.sent), (eth(1000), paid)),
                other => panic!("[{backend}] wrong payment: {other:?}"),
            }
        }
        // Cancelled: nobody can buy it.
        w.market_as(1).cancel(l).await.unwrap();
        assert!(matches!(
            market_err(&w.market_as(2).buy(l, eth(1000)).await.unwrap_err()),
            E::ListingNotActive(_)
        ));
        assert!(matches!(
            market_err(&w.market_as(1).cancel(l).await.unwrap_err()),
            E::ListingNotActive(_)
        ));

        // Listed again, then the seller gives the token away: the listing is stale.
        let l = w.market_as(1).list(nft, token, Address::ZERO, eth(1000)).await.unwrap();
        let seller = w.nft_as(1);
        let gift = seller.c.transferFrom(who(1), who(4), token);
        send("transferFrom", &gift, &[]).await.unwrap();
        match market_err(&w.market_as(2).buy(l, eth(1000)).await.unwrap_err()) {
            E::StaleListing(x) => assert_eq!((x.seller, x.owner), (who(1), who(4))),
            other => panic!("[{backend}] stale: {other:?}"),
        }

        // The new owner lists and then revokes the approval: refused at purchase.
        w.nft_as(4).approve(w.market.address(), token).await.unwrap();
        let l = w.market_as(4).list(nft, token, Address::ZERO, eth(500)).await.unwrap();
        w.nft_as(4).approve(Address::ZERO, token).await.unwrap();
        assert!(matches!(
            market_err(&w.market_as(2).buy(l, eth(500)).await.unwrap_err()),
            E::MarketNotApproved(_)
        ));

        // Approved again: sold once; the second buy of the same listing is refused.
        w.nft_as(4).approve(w.market.address(), token).await.unwrap();
        w.market_as(2).buy(l, eth(500)).await.unwrap();
        match market_err(&w.market_as(3).buy(l, eth(500)).await.unwrap_err()) {
            E::ListingNotActive(x) => assert_eq!(x.listingId, l),
            other => panic!("[{backend}] double buy: {other:?}"),
        }
        assert_eq!(w.nft.owner_of(token).await.unwrap(), who(2));
    }
}

/// Re-entry through the market: a contract royalty receiver re-entering `withdraw` from its
/// `receive`, and a contract buyer re-entering `buy` from `onERC721Received`, each fail with
/// ReentrancyGuardReentrantCall; each is paid or served once.
#[tokio::test]
async fn reentrant_royalty_receiver_and_buyer_are_stopped() {
    for backend in backends() {
        let w = World::new(backend).await;
        let reentrant = |data: &Bytes| {
            matches!(
                NftMarketErrors::abi_decode(data).unwrap(),
                NftMarketErrors::ReentrancyGuardReentrantCall(_)
            )
        };
        // The attacker is artist and royalty receiver; it sells, then its token is resold.
        let attacker = w.attacker(3).await;
        let r = request("reentrant artist", 1);
        send("commit", &attacker.commit(commitment_of(*attacker.address(), &r)), &[])
            .await
            .unwrap();
        w.next_block().await;
        send("mint", &attacker.mint(attacker_request(&r)), &[]).await.unwrap();
        let token = U256::from(1);
        send("approveAndList", &attacker.approveAndList(token, eth(1000)), &[]).await.unwrap();
        w.market_as(1).buy(U256::from(1), eth(1000)).await.unwrap();
        w.nft_as(1).approve(w.market.address(), token).await.unwrap();
        let l =
            w.market_as(1).list(w.nft.address(), token, Address::ZERO, eth(2000)).await.unwrap();
        w.market_as(2).buy(l, eth(2000)).await.unwrap();
        let owed = w.market.owed(*attacker.address(), Address::ZERO).await.unwrap();
        assert_eq!(owed, eth(1200), "[{backend}] first sale + 10% of the resale");

        send("arm", &attacker.arm(3), &[]).await.unwrap(); // Mode.Withdraw
        send("withdraw", &attacker.withdraw(), &[]).await.unwrap();
        assert_eq!(attacker.reentries().call().await.unwrap(), U256::from(1));
        assert!(!attacker.reentrySucceeded().call().await.unwrap());
        assert!(
            reentrant(&attacker.reentryRevertData().call().await.unwrap()),
            "[{backend}] withdraw re-entry"
        );
        let p = w.chain.provider(0);
        assert_eq!(
            p.get_balance(*attacker.address()).await.unwrap(),
            eth(1200),
            "[{backend}] paid once"
        );

        // The attacker buys, and from onERC721Received buys the same listing again.
        w.nft_as(2).approve(w.market.address(), token).await.unwrap();
        let l = w.market_as(2).list(w.nft.address(), token, Address::ZERO, eth(100)).await.unwrap();
        send("arm", &attacker.arm(2), &[]).await.unwrap(); // Mode.Buy
        send("buy", &attacker.buy(l, eth(100)).value(eth(200)), &[]).await.unwrap();
        assert_eq!(attacker.reentries().call().await.unwrap(), U256::from(1));
        assert!(!attacker.reentrySucceeded().call().await.unwrap());
        assert!(
            reentrant(&attacker.reentryRevertData().call().await.unwrap()),
            "[{backend}] buy re-entry"
        );
        assert_eq!(w.nft.owner_of(token).await.unwrap(), *attacker.address());
        assert_eq!(
            w.market.owed(who(2), Address::ZERO).await.unwrap(),
            eth(90),
            "[{backend}] one sale"
        );
    }
}

/// Paying in ALR (an ERC-20): the price is taken by transferFrom and split 90/10 in ALR; ETH
/// sent with it is refused. A token reporting a 100% royalty is capped at 25%; a token
/// without ERC-2981 pays none.
#[tokio::test]
async fn erc20_payment_and_royalty_cap() {
    for backend in backends() {
        let w = World::new(backend).await;
        let p0 = w.chain.provider(0);
        let alr =
            AlaraToken::deploy(p0.clone(), who(0), U256::from(1_000_000u64) * U256::from(ETHER))
                .await
                .unwrap();
        send("transfer", &alr.transfer(who(2), eth(10_000)), &[]).await.unwrap();
        let token = w.mint(1, &request("priced in ALR", 1)).await;
        w.nft_as(1).approve(w.market.address(), token).await.unwrap();
        let l =
            w.market_as(1).list(w.nft.address(), token, *alr.address(), eth(5000)).await.unwrap();
        let alr2 = AlaraToken::new(*alr.address(), w.chain.provider(2));
        send("approve", &alr2.approve(w.market.address(), eth(5000)), &[]).await.unwrap();
        match market_err(&w.market_as(2).buy(l, U256::from(1)).await.unwrap_err()) {
            NftMarketErrors::WrongPayment(x) => {
                assert_eq!((x.expected, x.sent), (U256::ZERO, U256::from(1)))
            }
            other => panic!("[{backend}] ETH with ALR: {other:?}"),
        }
        w.market_as(2).buy(l, U256::ZERO).await.unwrap();
        assert_eq!(w.market.owed(who(1), *alr.address()).await.unwrap(), eth(5000));
        let (amount, _) = w.market_as(1).withdraw(*alr.address()).await.unwrap();
        assert_eq!(amount, eth(5000));
        assert_eq!(alr.balanceOf(who(1)).call().await.unwrap(), eth(5000), "[{backend}]");
        assert_eq!(alr.balanceOf(who(2)).call().await.unwrap(), eth(5000));

        let greedy =
            GreedyRoyaltyERC721::deploy(p0.clone(), who(5), U96::from(10_000)).await.unwrap();
        let plain = PlainERC721::deploy(p0.clone()).await.unwrap();
        let (r, v) = {
            let x = w
                .market
                .c
                .royaltyOf(*greedy.address(), U256::from(1), eth(1000))
                .call()
                .await
                .unwrap();
            (x.receiver, x.royalty)
        };
        assert_eq!((r, v), (who(5), eth(250)), "[{backend}] 100% capped at 25%");
        let x =
            w.market.c.royaltyOf(*plain.address(), U256::from(1), eth(1000)).call().await.unwrap();
        assert_eq!((x.receiver, x.royalty), (Address::ZERO, U256::ZERO));
        // A sale of the greedy token credits the capped royalty.
        send("mint", &greedy.mint(who(0)), &[]).await.unwrap();
        send("approve", &greedy.approve(w.market.address(), U256::from(1)), &[]).await.unwrap();
        // A fresh client: the greedy token's sends moved account 0's nonce past what
        // `w.market`'s provider has cached.
        let l = w
            .market_as(0)
            .list(*greedy.address(), U256::from(1), Address::ZERO, eth(1000))
            .await
            .unwrap();
        w.market_as(2).buy(l, eth(1000)).await.unwrap();
        assert_eq!(w.market.owed(who(5), Address::ZERO).await.unwrap(), eth(250));
        assert_eq!(w.market.owed(who(0), Address::ZERO).await.unwrap(), eth(750), "[{backend}]");
    }
}
