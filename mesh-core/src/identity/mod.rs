//! The identity fabric: who or what is asking, whether its credential is
//! valid and not revoked, and what it is entitled to.
//!
//! Every decision starts from a verified [`Identity`]. Identities from tokens,
//! API keys and normalized events share one canonical [`ActorKey`], so
//! correlation, revocation and policy speak of the same subject.
//!
//! Tokens are verified by an [`IssuerRegistry`]: each trusted issuer has its
//! own [`KeySet`], algorithms and [`ClaimRules`]; the key set is chosen by the
//! token's `iss`. Every rejection has its own [`IdentityErrorKind`].

mod actor;
mod apikey;
mod cache;
mod claims;
mod device;
mod error;
mod grants;
mod issuer;
mod json;
mod jwk;
mod jws;
mod principal;
mod refresh;
mod revocation;
mod scan;
mod spiffe;
mod swar;

pub(crate) use actor::canonical_text;
pub use actor::ActorKey;
pub use apikey::{
    ApiKey, ApiKeyRecord, ApiKeySpec, ApiKeyStore, API_KEY_ISSUER, API_KEY_LEN, MIN_PEPPER_LEN,
};
pub(crate) use cache::{thread_lane, LANES};
pub use cache::{CacheError, CacheStats, TokenCache, DEFAULT_CACHE_MAX_TOKEN_LEN};
pub use claims::{identity_from_claims, ClaimRules, RegisteredClaims, MAPPED_CLAIMS};
pub use device::{DeviceRecord, DEVICE_ISSUER};
pub use error::{IdentityError, IdentityErrorKind};
pub use grants::{Grant, GrantSet};
pub use issuer::{
    verify_jws, IssuerConfig, IssuerRegistry, VerifiedJws, VerifiedToken, MAX_ISSUERS,
};
pub use json::DEFAULT_MAX_DEPTH;
pub use jwk::{KeySet, VerifyingKey, DEFAULT_MAX_JWKS_LEN, MAX_KEYS, MAX_RSA_BITS, MIN_RSA_BITS};
pub use jws::{
    Algorithm, AlgorithmFamily, CompactJws, Header, JwsOptions, DEFAULT_MAX_HEADER_LEN,
    DEFAULT_MAX_TOKEN_LEN,
};
pub use principal::{
    AuthContext, AuthRef, DevicePosture, Identity, IdentityBuilder, IdentityKind, StrIter, StrList,
};
pub(crate) use principal::{ClaimsInit, Narrow, Packer, SpanSink, Times};
pub use refresh::{JwksRefresh, RefreshPolicy};
pub(crate) use revocation::FastState;
pub use revocation::{RevocationEntry, RevocationReason, RevocationSet, MAX_REVOCATION_KEY_LEN};
pub use spiffe::{
    verify_jwt_svid, JwtSvidProfile, SpiffeId, TrustDomain, JWT_SVID_ALGORITHMS, MAX_SPIFFE_ID_LEN,
    MAX_TRUST_DOMAIN_LEN,
};
