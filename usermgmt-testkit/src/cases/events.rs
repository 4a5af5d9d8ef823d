//! SPEC §13: the outbox is written with its change and rolled back with it, and subscribers
//! get every event at least once, in order per user, resuming after a restart and sharing a
//! consumer between instances.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::Duration;
use usermgmt_core::events::{Subscription, handler_fn};
use usermgmt_core::model::{AuditAction, AuditActor, Event, REDACTED, Status};
use usermgmt_core::password::Password;
use usermgmt_core::service::{BulkDeleteRequest, UpdateUser};
use uuid::Uuid;

use crate::fixture::{Fixture, tenant};
use crate::store::TestStore;

/// Every event of the fixture's tenant after `after`, by id.
pub(crate) async fn events_after(fx: &Fixture, after: u64) -> Vec<Event> {
    let batch = fx
        .store
        .storage
        .read_events(&fx.tenant, after, 0, 1, 10_000)
        .await
        .expect("read the outbox");
    batch.events
}

fn renamed(name: &str) -> UpdateUser {
    UpdateUser {
        name: Some(name.into()),
        ..Default::default()
    }
}

/// A failure raised after a change and its outbox row were written rolls both back; once it
/// is gone, the change and exactly one event per audit event commit together.
pub async fn events_commit_and_roll_back_with_their_change(store: TestStore) {
    let fx = &Fixture::new(store).await;
    let user = fx.create("Ada", "ada@t1.test").await;
    let storage = fx.store.storage.clone();
    let before = storage.last_event_id(&fx.tenant).await.expect("last id");
    assert!(before >= 2, "bootstrap and create announced events");
    let audit_before = storage
        .list_audit(&fx.tenant, user.id, 0, 100)
        .await
        .expect("audit")
        .1;

    fx.store.set_outbox_fault(true).await;
    let update = fx
        .service
        .update_user(&fx.admin, user.id, renamed("Changed"))
        .await;
    assert!(update.is_err(), "the injected failure fails the update");
    let create = fx
        .service
        .create_user(&fx.admin, Fixture::learner("Bo", "bo@t1.test"))
        .await;
    assert!(create.is_err(), "the injected failure fails the creation");
    let delete = fx
        .service
        .bulk_delete(&fx.admin, BulkDeleteRequest::UserIds(vec![user.id]))
        .await;
    assert!(
        delete.is_err(),
        "the injected failure fails the bulk delete"
    );
    fx.store.set_outbox_fault(false).await;

    let unchanged = fx.service.get_user(&fx.admin, user.id).await.expect("get");
    assert_eq!(unchanged.name, "Ada");
    assert_eq!(unchanged.status, Status::Active);
    assert_eq!(unchanged.version, user.version);
    assert_eq!(
        storage.last_event_id(&fx.tenant).await.expect("last"),
        before
    );
    assert!(events_after(fx, before).await.is_empty());
    let audit_after = storage
        .list_audit(&fx.tenant, user.id, 0, 100)
        .await
        .expect("audit")
        .1;
    assert_eq!(
        audit_after, audit_before,
        "no audit event survived the rollback"
    );

    let secret = "a new Passw0rd that must not leak";
    let patch = UpdateUser {
        name: Some("Changed".into()),
        password: Some(Some(Password::new(secret))),
        ..Default::default()
    };
    fx.service
        .update_user(&fx.admin, user.id, patch)
        .await
        .expect("update");
    let events = events_after(fx, before).await;
    let last = storage.last_event_id(&fx.tenant).await.expect("last");
    assert_eq!(
        events.iter().map(|e| e.id).collect::<Vec<_>>(),
        ((before + 1)..=last).collect::<Vec<_>>(),
        "ids count up without gaps"
    );
    let audit = storage
        .list_audit(&fx.tenant, user.id, 0, 100)
        .await
        .expect("audit")
        .0;
    assert_eq!(
        events.len(),
        audit.len() - usize::try_from(audit_before).unwrap_or(0)
    );
    for event in &events {
        assert_eq!(event.user_id(), Some(user.id));
        assert_eq!(event.audit.tenant_id, fx.tenant);
        assert_eq!(event.audit.actor, AuditActor::User(fx.admin_id));
        assert!(audit.contains(&event.audit), "the event is its audit event");
        let json = serde_json::to_string(event).expect("json");
        assert!(!json.contains(secret), "no secret in an event");
    }
    let name = events
        .iter()
        .find_map(|e| e.audit.changes.get("name"))
        .expect("a name change");
    assert_eq!(
        (name.old.as_str(), name.new.as_str()),
        (Some("Ada"), Some("Changed"))
    );
    let password = events
        .iter()
        .find_map(|e| e.audit.changes.get("password"))
        .expect("a password change");
    assert_eq!(password.new.as_str(), Some(REDACTED));
}

/// What a test handler saw, in the order it saw it: (instance, event).
type Seen = Arc<Mutex<Vec<(usize, Event)>>>;

fn recorder(seen: &Seen, instance: usize) -> impl usermgmt_core::events::EventHandler + 'static {
    let seen = seen.clone();
    handler_fn(move |event: Event| {
        let seen = seen.clone();
        async move {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            seen.lock().expect("lock").push((instance, event));
            Ok(())
        }
    })
}

/// Per user, the ids of the events seen, in the order seen.
fn ids_per_user(seen: &[(usize, Event)]) -> BTreeMap<Uuid, Vec<u64>> {
    let mut per_user: BTreeMap<Uuid, Vec<u64>> = BTreeMap::new();
    for (_, event) in seen {
        per_user
            .entry(event.audit.target_id)
            .or_default()
            .push(event.id);
    }
    per_user
}

/// Interleaved writes to several users: 6 users, 4 renames each, round by round.
async fn interleaved_writes(fx: &Fixture) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(
            fx.create(&format!("User {i}"), &format!("u{i}@t1.test"))
                .await
                .id,
        );
    }
    for round in 0..4 {
        for (i, id) in ids.iter().enumerate() {
            fx.service
                .update_user(&fx.admin, *id, renamed(&format!("User {i} r{round}")))
                .await
                .expect("rename");
        }
    }
    ids
}

/// A subscriber gets every event of its tenant once, in order per user, with its kinds.
pub async fn events_reach_a_subscriber_in_order_per_user(store: TestStore) {
    let fx = &Fixture::new(store).await;
    let other = tenant("t2");
    fx.service
        .bootstrap_super_admin(
            &other,
            "Other",
            "admin@t2.test",
            Password::new(crate::fixture::PASSWORD),
        )
        .await
        .expect("second tenant");
    let users = interleaved_writes(fx).await;
    let seen: Seen = Arc::default();
    let subscriber = fx
        .service
        .subscribe(
            Subscription::new("orders").tenant(fx.tenant.clone()),
            recorder(&seen, 0),
        )
        .await
        .expect("subscribe");
    while subscriber.poll().await.expect("poll") > 0 {}
    let seen = seen.lock().expect("lock").clone();
    let last = fx
        .store
        .storage
        .last_event_id(&fx.tenant)
        .await
        .expect("last");
    let mut ids: Vec<u64> = seen.iter().map(|(_, e)| e.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=last).collect::<Vec<_>>(), "every event once");
    assert!(seen.iter().all(|(_, e)| e.audit.tenant_id == fx.tenant));
    for (user, ids) in ids_per_user(&seen) {
        assert!(ids.is_sorted(), "events of {user} in order: {ids:?}");
    }
    for (i, user) in users.iter().enumerate() {
        let names: Vec<String> = seen
            .iter()
            .filter(|(_, e)| e.audit.target_id == *user && e.kind() == AuditAction::UserUpdated)
            .filter_map(|(_, e)| e.audit.changes.get("name")?.new.as_str().map(str::to_owned))
            .collect();
        let expected: Vec<String> = (0..4).map(|r| format!("User {i} r{r}")).collect();
        assert_eq!(names, expected);
    }

    // Kinds: only creations, and of every tenant.
    let created: Seen = Arc::default();
    let only_created = fx
        .service
        .subscribe(
            Subscription::new("created").kinds([AuditAction::UserCreated]),
            recorder(&created, 0),
        )
        .await
        .expect("subscribe");
    while only_created.poll().await.expect("poll") > 0 {}
    let created = created.lock().expect("lock").clone();
    assert!(
        created
            .iter()
            .all(|(_, e)| e.kind() == AuditAction::UserCreated)
    );
    assert_eq!(
        created
            .iter()
            .filter(|(_, e)| e.audit.tenant_id == fx.tenant)
            .count(),
        7
    );
    assert_eq!(
        created
            .iter()
            .filter(|(_, e)| e.audit.tenant_id == other)
            .count(),
        1
    );

    // A name registered again with other partitions is a conflict.
    let again = fx
        .service
        .subscribe(
            Subscription::new("created").partitions(2),
            recorder(&seen_none(), 0),
        )
        .await;
    assert!(matches!(again, Err(usermgmt_core::Error::Conflict { .. })));
}

fn seen_none() -> Seen {
    Arc::default()
}

/// A handler error holds its partition for a backoff and retries the same event; a
/// restarted subscriber continues after the last event handled, and one registered
/// `from_latest` skips what came before it.
pub async fn a_subscriber_resumes_after_a_restart(store: TestStore) {
    let fx = &Fixture::new(store).await;
    interleaved_writes(fx).await;
    let last = fx
        .store
        .storage
        .last_event_id(&fx.tenant)
        .await
        .expect("last");
    let seen: Seen = Arc::default();
    let failing = {
        let seen = seen.clone();
        handler_fn(move |event: Event| {
            let seen = seen.clone();
            async move {
                if event.id == 5 {
                    return Err("the receiving system is down".into());
                }
                seen.lock().expect("lock").push((0, event));
                Ok(())
            }
        })
    };
    let subscription = Subscription::new("resume").partitions(1);
    let first = fx
        .service
        .subscribe(
            Subscription {
                batch_size: 3,
                ..subscription.clone()
            },
            failing,
        )
        .await
        .expect("subscribe");
    assert_eq!(
        first.poll().await.expect("poll"),
        4,
        "events 1-4, then 5 fails"
    );
    drop(first);

    // The restart: a new subscriber under the same name.
    let resumed: Seen = Arc::default();
    let second = fx
        .service
        .subscribe(subscription.clone(), recorder(&resumed, 1))
        .await
        .expect("subscribe again");
    assert_eq!(
        second.poll().await.expect("poll"),
        0,
        "waiting for the retry"
    );
    fx.clock.advance(Duration::seconds(2));
    while second.poll().await.expect("poll") > 0 {}
    let first_ids: Vec<u64> = seen
        .lock()
        .expect("lock")
        .iter()
        .map(|(_, e)| e.id)
        .collect();
    let second_ids: Vec<u64> = resumed
        .lock()
        .expect("lock")
        .iter()
        .map(|(_, e)| e.id)
        .collect();
    assert_eq!(first_ids, vec![1, 2, 3, 4]);
    assert_eq!(second_ids, (5..=last).collect::<Vec<_>>());

    let latest: Seen = Arc::default();
    let late = fx
        .service
        .subscribe(
            Subscription::new("late").from_latest(),
            recorder(&latest, 2),
        )
        .await
        .expect("subscribe");
    assert_eq!(late.poll().await.expect("poll"), 0);
    let user = fx.create("Late", "late@t1.test").await;
    assert_eq!(late.poll().await.expect("poll"), 1);
    assert_eq!(latest.lock().expect("lock")[0].1.user_id(), Some(user.id));
    assert!(
        fx.service
            .remove_subscription("late")
            .await
            .expect("remove")
    );
}

/// Two instances of one consumer share its partitions: each event is handled once, events of
/// a user in order; a lease that ran out passes to the other instance, and the late holder's
/// release is refused.
pub async fn two_instances_share_a_consumer(store: TestStore) {
    let fx = &Fixture::new(store).await;
    let mut users = Vec::new();
    for i in 0..40 {
        users.push(
            fx.create(&format!("Shared {i}"), &format!("s{i}@t1.test"))
                .await
                .id,
        );
    }
    for (i, id) in users.iter().enumerate() {
        fx.service
            .update_user(&fx.admin, *id, renamed(&format!("Shared {i} again")))
            .await
            .expect("rename");
    }
    let seen: Seen = Arc::default();
    let subscription = Subscription {
        batch_size: 10,
        ..Subscription::new("shared")
    };
    let a = fx
        .service
        .subscribe(subscription.clone(), recorder(&seen, 0))
        .await
        .expect("a");
    let b = fx
        .service
        .subscribe(subscription, recorder(&seen, 1))
        .await
        .expect("b");
    loop {
        let (x, y) = tokio::join!(a.poll(), b.poll());
        if x.expect("poll a") + y.expect("poll b") == 0 {
            break;
        }
    }
    let seen = seen.lock().expect("lock").clone();
    let last = fx
        .store
        .storage
        .last_event_id(&fx.tenant)
        .await
        .expect("last");
    let mut ids: Vec<u64> = seen.iter().map(|(_, e)| e.id).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        (1..=last).collect::<Vec<_>>(),
        "every event exactly once"
    );
    for (user, ids) in ids_per_user(&seen) {
        assert!(ids.is_sorted(), "events of {user} in order: {ids:?}");
    }
    let by_a = seen.iter().filter(|(i, _)| *i == 0).count();
    assert!(
        by_a > 0 && by_a < seen.len(),
        "both instances worked ({by_a} of {})",
        seen.len()
    );

    // Leases: a held cursor is not leased again until it runs out.
    fx.create("One more", "more@t1.test").await;
    let storage = &fx.store.storage;
    let now = usermgmt_core::Clock::now(fx.clock.as_ref());
    let lease = now + Duration::seconds(60);
    let held = storage
        .lease_cursor("shared", "x", now, lease)
        .await
        .expect("lease");
    let held = held.expect("a cursor with an unread event");
    let same = |c: &usermgmt_core::storage::LeasedCursor| {
        c.tenant_id == held.tenant_id && c.part == held.part
    };
    while let Some(other) = storage
        .lease_cursor("shared", "y", now, lease)
        .await
        .expect("lease")
    {
        assert!(!same(&other), "a held cursor is not leased again");
    }
    let later = now + Duration::seconds(61);
    let mut taken = None;
    while let Some(c) = storage
        .lease_cursor("shared", "y", later, later + Duration::seconds(60))
        .await
        .expect("lease")
    {
        if same(&c) {
            taken = Some(c);
        }
    }
    let taken = taken.expect("the lapsed lease passes on");
    assert!(
        !storage
            .release_cursor("shared", &held, "x", last + 1, None)
            .await
            .expect("release")
    );
    assert!(
        storage
            .release_cursor("shared", &taken, "y", last + 1, None)
            .await
            .expect("release")
    );
}
