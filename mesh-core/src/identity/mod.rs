//! The identity fabric: who or what is asking, whether its credential is
//! valid and not revoked, and what it is entitled to.
//!
//! Every decision starts from a verified [`Identity`]. Identities from tokens,
//! API keys and normalized events share one canonical [`ActorKey`], so
//! correlation, revocation and policy speak of the same subject.

mod actor;
mod apikey;
mod cache;
mod device;
mod error;
mod grants;
mod principal;
mod revocation;
mod spiffe;

pub use actor::ActorKey;
pub use apikey::{
    ApiKey, ApiKeyRecord, ApiKeySpec, ApiKeyStore, API_KEY_ISSUER, API_KEY_LEN, MIN_PEPPER_LEN,
};
pub use cache::{CacheError, CacheStats, TokenCache, DEFAULT_MAX_TOKEN_LEN};
pub use device::{DeviceRecord, DEVICE_ISSUER};
pub use error::{IdentityError, IdentityErrorKind};
pub use grants::{Grant, GrantSet};
pub use principal::{AuthContext, DevicePosture, Identity, IdentityKind};
pub use revocation::{RevocationEntry, RevocationReason, RevocationSet, MAX_REVOCATION_KEY_LEN};
pub use spiffe::{
    JwtSvidProfile, SpiffeId, TrustDomain, JWT_SVID_ALGORITHMS, MAX_SPIFFE_ID_LEN,
    MAX_TRUST_DOMAIN_LEN,
};
