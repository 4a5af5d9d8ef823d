//! SPEC §13 for writes of many audit events at once: every event announced, in order, under
//! the tenant's next ids.

use usermgmt_core::Principal;
use usermgmt_core::model::AuditAction;
use usermgmt_core::service::{BulkDeleteRequest, UpdateUser};
use uuid::Uuid;

use super::events::events_after;
use crate::fixture::{Fixture, tenant};
use crate::store::TestStore;

/// A write of many audit events at once (a bulk delete) announces one event per user under
/// the next ids, in the order the audit events were written, and the next write continues
/// from there; a write of another tenant neither takes nor shifts those ids.
pub async fn a_bulk_write_announces_every_event_in_order(store: TestStore) {
    let fx = &Fixture::new(store).await;
    let mut users = Vec::new();
    for i in 0..7 {
        users.push(
            fx.create(&format!("Bulk {i}"), &format!("bulk{i}@t1.test"))
                .await,
        );
    }
    let storage = fx.store.storage.clone();
    let before = storage.last_event_id(&fx.tenant).await.expect("last id");
    let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
    let outcome = fx
        .service
        .bulk_delete(&fx.admin, BulkDeleteRequest::UserIds(ids.clone()))
        .await
        .expect("bulk delete");
    assert_eq!(outcome.deleted, 7);
    let events = events_after(fx, before).await;
    assert_eq!(
        events.iter().map(|e| e.id).collect::<Vec<_>>(),
        ((before + 1)..=(before + 7)).collect::<Vec<_>>(),
        "one event per deleted user, ids without gaps"
    );
    let mut targets: Vec<Uuid> = events.iter().map(|e| e.audit.target_id).collect();
    targets.sort_unstable();
    let mut expected = ids.clone();
    expected.sort_unstable();
    assert_eq!(targets, expected, "each deleted user announced once");
    for event in &events {
        assert_eq!(event.audit.action, AuditAction::UserBulkDeleted);
        let audit = storage
            .list_audit(&fx.tenant, event.audit.target_id, 0, 100)
            .await
            .expect("audit")
            .0;
        assert!(audit.contains(&event.audit), "the event is its audit event");
    }
    let t2 = tenant("t2");
    let admin2 = fx.second_tenant_admin().await;
    let other_before = storage.last_event_id(&t2).await.expect("last id");
    fx.service
        .create_user(
            &Principal::user(t2.clone(), admin2.id),
            Fixture::learner("Elsewhere", "elsewhere@t2.test"),
        )
        .await
        .expect("create in the other tenant");
    assert_eq!(
        storage.last_event_id(&t2).await.expect("last"),
        other_before + 1
    );
    fx.service
        .update_user(
            &fx.admin,
            users[0].id,
            UpdateUser {
                name: Some("Renamed".into()),
                ..Default::default()
            },
        )
        .await
        .expect("update a deleted user");
    let next = events_after(fx, before + 7).await;
    assert_eq!(
        next.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![before + 8],
        "the next write takes the next id"
    );
}
