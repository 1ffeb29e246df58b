// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {IERC2981} from "@openzeppelin/contracts/interfaces/IERC2981.sol";
import {ERC165Checker} from "@openzeppelin/contracts/utils/introspection/ERC165Checker.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title NftMarket
/// @notice Fixed-price sales of ERC-721 tokens for ETH or an ERC-20 (such as ALR), paying the
/// token's ERC-2981 royalty on every sale.
///
/// A seller approves the market for the token (or for all its tokens) and lists it; the
/// token stays with the seller until it sells. A listing is valid only while its seller
/// still owns the token and the market is still approved: a token that moved makes its
/// listing stale (`StaleListing`), and a seller cancels a listing it no longer wants.
///
/// On a sale the market asks the token contract's `royaltyInfo` (when it declares ERC-2981),
/// caps the answer at `MAX_ROYALTY_BPS` of the price, and credits the royalty to its
/// receiver and the rest to the seller; each withdraws with `withdraw` (pull payments, so a
/// receiver that refuses ETH blocks nobody's sale). ERC-2981 only reports a royalty: neither
/// the standard nor other marketplaces enforce it, and a transfer outside a market that pays
/// it pays nothing.
///
/// ERC-20 amounts are credited as the balance the market actually received, so a token with
/// a transfer fee splits the net amount. Rebasing tokens are not supported.
contract NftMarket is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    struct Listing {
        address seller;
        bool active;
        address nft;
        uint256 tokenId;
        /// address(0) = ETH.
        address currency;
        uint256 price;
    }

    /// @notice The largest share of a price paid as royalty, whatever `royaltyInfo` says: 25%.
    uint256 public constant MAX_ROYALTY_BPS = 2_500;

    /// @notice Listings by id; ids start at 1.
    mapping(uint256 listingId => Listing) public listings;
    /// @notice Number of listings created.
    uint256 public listingCount;
    /// @notice What each account can withdraw, per currency (address(0) = ETH).
    mapping(address account => mapping(address currency => uint256 amount)) public owed;

    /// @notice `seller` listed token `tokenId` of `nft` for `price` of `currency`.
    event Listed(
        uint256 indexed listingId,
        address indexed seller,
        address indexed nft,
        uint256 tokenId,
        address currency,
        uint256 price
    );
    /// @notice The seller cancelled listing `listingId`.
    event Cancelled(uint256 indexed listingId);
    /// @notice Listing `listingId` sold to `buyer` for `price`; `royalty` of it was credited
    /// to `royaltyReceiver`, the rest to the seller.
    event Sold(
        uint256 indexed listingId,
        address indexed buyer,
        address indexed seller,
        uint256 price,
        address royaltyReceiver,
        uint256 royalty
    );
    /// @notice `account` withdrew `amount` of `currency`.
    event Withdrawn(address indexed account, address indexed currency, uint256 amount);

    /// @notice The caller does not own the token; `owner` does.
    error NotTokenOwner(address caller, address owner);
    /// @notice The market is not approved for the token by its owner `owner`.
    error MarketNotApproved(address owner, uint256 tokenId);
    /// @notice A price of zero.
    error ZeroPrice();
    /// @notice No listing `listingId`.
    error UnknownListing(uint256 listingId);
    /// @notice Listing `listingId` was sold or cancelled.
    error ListingNotActive(uint256 listingId);
    /// @notice The caller is not the listing's seller.
    error NotSeller(address caller);
    /// @notice The token of `listingId` moved from its seller `seller` to `owner`.
    error StaleListing(uint256 listingId, address seller, address owner);
    /// @notice The payment sent differs from the price (`expected`; `sent` given). For an
    /// ERC-20 listing `expected` is 0 ETH.
    error WrongPayment(uint256 expected, uint256 sent);
    /// @notice A seller cannot buy its own listing.
    error SellerIsBuyer(address seller);
    /// @notice `account` has nothing to withdraw in `currency`.
    error NothingOwed(address account, address currency);
    /// @notice Sending ETH to `to` failed.
    error TransferFailed(address to);

    /// @notice Lists token `tokenId` of `nft` for `price` of `currency` (address(0) for ETH).
    /// The caller must own the token and have approved the market for it.
    /// @param nft The ERC-721 contract.
    /// @param tokenId The token.
    /// @param currency address(0) for ETH, else the ERC-20 to be paid in.
    /// @param price The price in the currency's base units.
    /// @return listingId The new listing's id.
    function list(address nft, uint256 tokenId, address currency, uint256 price) external returns (uint256 listingId) {
        if (price == 0) revert ZeroPrice();
        address owner = IERC721(nft).ownerOf(tokenId);
        if (owner != msg.sender) revert NotTokenOwner(msg.sender, owner);
        if (!_approved(nft, owner, tokenId)) revert MarketNotApproved(owner, tokenId);
        listingId = ++listingCount;
        listings[listingId] = Listing({
            seller: msg.sender,
            active: true,
            nft: nft,
            tokenId: tokenId,
            currency: currency,
            price: price
        });
        emit Listed(listingId, msg.sender, nft, tokenId, currency, price);
    }

    /// @notice Cancels an active listing of the caller.
    /// @param listingId The listing.
    function cancel(uint256 listingId) external {
        Listing storage l = _listing(listingId);
        if (l.seller != msg.sender) revert NotSeller(msg.sender);
        if (!l.active) revert ListingNotActive(listingId);
        l.active = false;
        emit Cancelled(listingId);
    }

    /// @notice Buys listing `listingId`: ETH as `msg.value` equal to the price, or the
    /// ERC-20 price taken by `transferFrom` (approve the market first, send no ETH). Credits
    /// the royalty (capped at `MAX_ROYALTY_BPS`) to its receiver and the rest to the seller,
    /// then transfers the token to the caller (`safeTransferFrom`: a contract buyer must
    /// accept ERC-721 tokens).
    /// @param listingId The listing.
    function buy(uint256 listingId) external payable nonReentrant {
        Listing storage l = _listing(listingId);
        if (!l.active) revert ListingNotActive(listingId);
        address seller = l.seller;
        if (seller == msg.sender) revert SellerIsBuyer(seller);
        (address nft, uint256 tokenId, address currency) = (l.nft, l.tokenId, l.currency);
        address owner = IERC721(nft).ownerOf(tokenId);
        if (owner != seller) revert StaleListing(listingId, seller, owner);
        if (!_approved(nft, seller, tokenId)) revert MarketNotApproved(seller, tokenId);

        l.active = false;
        uint256 amount;
        if (currency == address(0)) {
            if (msg.value != l.price) revert WrongPayment(l.price, msg.value);
            amount = msg.value;
        } else {
            if (msg.value != 0) revert WrongPayment(0, msg.value);
            uint256 before = IERC20(currency).balanceOf(address(this));
            IERC20(currency).safeTransferFrom(msg.sender, address(this), l.price);
            amount = IERC20(currency).balanceOf(address(this)) - before;
        }
        (address receiver, uint256 royalty) = royaltyOf(nft, tokenId, amount);
        if (royalty != 0) owed[receiver][currency] += royalty;
        owed[seller][currency] += amount - royalty;
        emit Sold(listingId, msg.sender, seller, amount, receiver, royalty);
        IERC721(nft).safeTransferFrom(seller, msg.sender, tokenId);
    }

    /// @notice Withdraws everything the caller is owed in `currency` (address(0) for ETH).
    /// @param currency address(0) for ETH, else the ERC-20.
    /// @return amount What was paid out.
    function withdraw(address currency) external nonReentrant returns (uint256 amount) {
        amount = owed[msg.sender][currency];
        if (amount == 0) revert NothingOwed(msg.sender, currency);
        owed[msg.sender][currency] = 0;
        emit Withdrawn(msg.sender, currency, amount);
        if (currency == address(0)) {
            (bool ok,) = payable(msg.sender).call{value: amount}("");
            if (!ok) revert TransferFailed(msg.sender);
        } else {
            IERC20(currency).safeTransfer(msg.sender, amount);
        }
    }

    /// @notice The royalty a sale of `tokenId` of `nft` for `amount` pays, and to whom: the
    /// token's ERC-2981 answer capped at `MAX_ROYALTY_BPS` of `amount`; nothing when the
    /// contract does not declare ERC-2981, names no receiver, or its `royaltyInfo` reverts.
    /// @param nft The ERC-721 contract.
    /// @param tokenId The token.
    /// @param amount The sale amount.
    /// @return receiver Who is credited the royalty.
    /// @return royalty The royalty.
    function royaltyOf(address nft, uint256 tokenId, uint256 amount)
        public
        view
        returns (address receiver, uint256 royalty)
    {
        if (!ERC165Checker.supportsInterface(nft, type(IERC2981).interfaceId)) return (address(0), 0);
        try IERC2981(nft).royaltyInfo(tokenId, amount) returns (address r, uint256 v) {
            if (r == address(0)) return (address(0), 0);
            uint256 cap = amount * MAX_ROYALTY_BPS / 10_000;
            return (r, v > cap ? cap : v);
        } catch {
            return (address(0), 0);
        }
    }

    function _approved(address nft, address owner, uint256 tokenId) private view returns (bool) {
        return IERC721(nft).getApproved(tokenId) == address(this) || IERC721(nft).isApprovedForAll(owner, address(this));
    }

    function _listing(uint256 listingId) private view returns (Listing storage l) {
        l = listings[listingId];
        if (l.seller == address(0)) revert UnknownListing(listingId);
    }
}
