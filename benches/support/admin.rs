//! The benchmarks' administrator, the acting principal of every measured call.

use usermgmt::model::TenantId;
use usermgmt::password::Password;
use usermgmt::{Principal, UserService};

/// Creates the benchmarks' super-admin in `tenant`; answers them as the acting principal.
pub(crate) async fn bench_admin(service: &UserService, tenant: TenantId) -> Principal {
    let admin = service
        .bootstrap_super_admin(
            &tenant,
            "Bench Admin",
            "admin@bench.test",
            Password::new("bench-password"),
        )
        .await
        .expect("the bench admin");
    Principal::user(tenant, admin.id)
}
