//! The identity fabric: who or what is asking, whether its credential is
//! valid and not revoked, and what it is entitled to.
//!
//! Every decision starts from a verified [`Identity`]. Identities from tokens,
//! API keys and normalized events share one canonical [`ActorKey`], so
//! correlation, revocation and policy speak of the same subject.

mod actor;
mod error;
mod principal;

pub use actor::ActorKey;
pub use error::{IdentityError, IdentityErrorKind};
pub use principal::{AuthContext, DevicePosture, Identity, IdentityKind};
