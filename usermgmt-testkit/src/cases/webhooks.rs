//! SPEC §13: webhook endpoints and deliveries on each backend, through a recording transport:
//! fan-out after the endpoint exists, retries with backoff, dead letters, redelivery, replay,
//! instances that never claim one delivery together, and retention.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::Duration;
use usermgmt_core::events::{SIGNATURE_HEADER, WebhookTransport, verify};
use usermgmt_core::model::{AuditAction, DeliveryStatus, Permission};
use usermgmt_core::service::{CreateWebhook, ReplayWebhook, UpdateWebhook};
use usermgmt_core::{Clock, Error};

use crate::fixture::Fixture;
use crate::store::TestStore;

/// Answers each POST with the next planned status for its URL (then 200), recording it.
#[derive(Default)]
struct Recorder {
    plan: Mutex<BTreeMap<String, Vec<u16>>>,
    secrets: Mutex<BTreeMap<String, String>>,
    sent: Mutex<Vec<(String, u64, bool)>>,
}

#[async_trait]
impl WebhookTransport for Recorder {
    async fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: Vec<u8>,
    ) -> Result<u16, String> {
        let signature = headers
            .iter()
            .find(|(n, _)| *n == SIGNATURE_HEADER)
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let secret = self
            .secrets
            .lock()
            .expect("lock")
            .get(url)
            .cloned()
            .unwrap_or_default();
        let t: i64 = signature
            .split(',')
            .find_map(|p| p.strip_prefix("t="))
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let signed = verify(&secret, &signature, &body, t, 0);
        let event: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let id = event["id"].as_u64().unwrap_or(0);
        self.sent
            .lock()
            .expect("lock")
            .push((url.to_owned(), id, signed));
        let next = self.plan.lock().expect("lock").get_mut(url).and_then(|p| {
            if p.is_empty() {
                None
            } else {
                Some(p.remove(0))
            }
        });
        Ok(next.unwrap_or(200))
    }
}

fn hook(url: &str, kinds: &[AuditAction]) -> CreateWebhook {
    CreateWebhook {
        url: url.into(),
        kinds: kinds.to_vec(),
        enabled: true,
    }
}

/// Endpoints get the events after their creation that they want, signed; failures retry
/// after a backoff until the attempts run out (dead); redelivery and replay send again;
/// retention prunes only what every consumer and delivery is done with.
pub async fn webhooks_deliver_retry_and_dead_letter(store: TestStore) {
    let fx = &Fixture::new(store).await;
    let (viewer, _) = fx
        .principal_with("hooks", &[Permission::WEBHOOK_MANAGE])
        .await;
    assert!(
        matches!(
            fx.service.create_webhook(&viewer, hook("https://example.com/a", &[])).await,
            Err(Error::Forbidden(p)) if p == Permission::USER_VIEW
        ),
        "managing webhooks also takes user.view"
    );
    let (limited, _) = fx
        .principal_with(
            "limited-hooks",
            &[Permission::WEBHOOK_MANAGE, Permission::USER_VIEW],
        )
        .await;
    assert!(
        matches!(
            fx.service
                .create_webhook(&limited, hook("https://example.com/a", &[]))
                .await,
            Err(Error::Forbidden(_))
        ),
        "an endpoint sees every user's changes: only an actor outranking everyone aims one"
    );
    assert!(matches!(
        fx.service
            .create_webhook(&fx.admin, hook("https://10.0.0.1/a", &[]))
            .await,
        Err(Error::Validation(_))
    ));
    let early = fx.create("Early", "early@t1.test").await;
    let a = fx
        .service
        .create_webhook(
            &fx.admin,
            hook("https://a.example.com/in", &[AuditAction::UserCreated]),
        )
        .await
        .expect("create a");
    let b = fx
        .service
        .create_webhook(&fx.admin, hook("https://b.example.com/in", &[]))
        .await
        .expect("create b");
    let recorder = Arc::new(Recorder::default());
    for issued in [&a, &b] {
        recorder
            .secrets
            .lock()
            .expect("lock")
            .insert(issued.endpoint.url.clone(), issued.secret.clone());
    }
    recorder
        .plan
        .lock()
        .expect("lock")
        .insert(b.endpoint.url.clone(), vec![500; 20]);
    let user = fx.create("Late", "late@t1.test").await;
    fx.service
        .update_user(
            &fx.admin,
            user.id,
            usermgmt_core::service::UpdateUser {
                name: Some("Later".into()),
                ..Default::default()
            },
        )
        .await
        .expect("update");

    let dispatcher = fx
        .service
        .webhook_dispatcher(recorder.clone())
        .await
        .expect("dispatcher");
    // A second instance: the two never claim one delivery together.
    let other = fx
        .service
        .webhook_dispatcher(recorder.clone())
        .await
        .expect("dispatcher");
    let (x, y) = tokio::join!(dispatcher.run_once(), other.run_once());
    let (x, y) = (x.expect("round"), y.expect("round"));
    assert_eq!(
        x.attempts + y.attempts,
        3,
        "a: the creation; b: the creation and the update"
    );
    let sent = recorder.sent.lock().expect("lock").clone();
    assert!(sent.iter().all(|(_, _, signed)| *signed), "{sent:?}");
    let a_ids: Vec<u64> = sent
        .iter()
        .filter(|s| s.0 == a.endpoint.url)
        .map(|s| s.1)
        .collect();
    assert_eq!(
        a_ids.len(),
        1,
        "only user.created, only after the endpoint was created"
    );
    assert!(a_ids[0] > a.endpoint.since_event_id);
    let deliveries = fx
        .service
        .webhook_deliveries(&fx.admin, a.endpoint.id, 10)
        .await
        .expect("history");
    assert_eq!(
        (deliveries[0].status, deliveries[0].attempts),
        (DeliveryStatus::Delivered, 1)
    );

    // b fails: each retry waits for its backoff; after 8 attempts the deliveries are dead.
    assert_eq!(
        dispatcher.run_once().await.expect("round").attempts,
        0,
        "not due yet"
    );
    for _ in 0..8 {
        fx.clock.advance(Duration::hours(2));
        dispatcher.run_once().await.expect("round");
    }
    let b_history = fx
        .service
        .webhook_deliveries(&fx.admin, b.endpoint.id, 10)
        .await
        .expect("history");
    assert_eq!(b_history.len(), 2);
    for d in &b_history {
        assert_eq!(
            (d.status, d.attempts, d.response_status),
            (DeliveryStatus::Dead, 8, Some(500))
        );
    }
    recorder.plan.lock().expect("lock").clear();
    fx.service
        .redeliver_webhook(&fx.admin, b.endpoint.id, b_history[0].id)
        .await
        .expect("redeliver");
    assert_eq!(dispatcher.run_once().await.expect("round").delivered, 1);
    let replay = fx
        .service
        .replay_webhook(&fx.admin, a.endpoint.id, ReplayWebhook { from_event_id: 1 })
        .await
        .expect("replay");
    assert_eq!(replay.first_event_id, Some(1));
    assert_eq!(
        replay.queued, 5,
        "the creations of the admin, `hooks`, `limited-hooks`, Early and Late"
    );
    assert_eq!(dispatcher.run_once().await.expect("round").delivered, 5);
    let replayed: Vec<u64> = recorder
        .sent
        .lock()
        .expect("lock")
        .iter()
        .rev()
        .take(5)
        .map(|s| s.1)
        .collect();
    assert!(replayed.iter().all(|id| *id <= a_ids[0]), "{replayed:?}");
    let _ = early;

    // A disabled endpoint gets nothing new (b gets the change of a and the creation).
    let to_a = |r: &Recorder| {
        r.sent
            .lock()
            .expect("lock")
            .iter()
            .filter(|s| s.0 == a.endpoint.url)
            .count()
    };
    let a_before = to_a(&recorder);
    fx.service
        .update_webhook(
            &fx.admin,
            a.endpoint.id,
            UpdateWebhook {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .await
        .expect("disable");
    fx.create("Unseen", "unseen@t1.test").await;
    let report = dispatcher.run_once().await.expect("round");
    assert_eq!((report.events, report.delivered), (2, 2), "{report:?}");
    assert_eq!(to_a(&recorder), a_before);

    // Retention: nothing is pruned before the period; after it, the outbox keeps only what a
    // consumer has not passed or a pending delivery needs.
    let storage = &fx.store.storage;
    assert_eq!(dispatcher.prune().await.expect("prune"), 0);
    fx.clock.advance(Duration::days(8));
    let pending_before = storage.last_event_id(&fx.tenant).await.expect("last");
    assert!(dispatcher.prune().await.expect("prune") > 0);
    let left = storage
        .read_events(&fx.tenant, 0, 0, 1, 1000)
        .await
        .expect("read")
        .events;
    assert!(
        left.is_empty(),
        "every consumer passed every event: {left:?}"
    );
    assert_eq!(
        storage.last_event_id(&fx.tenant).await.expect("last"),
        pending_before,
        "ids go on"
    );
    let now = fx.clock.now();
    assert!(
        fx.service
            .webhook_deliveries(&fx.admin, b.endpoint.id, 10)
            .await
            .expect("history")
            .iter()
            .all(|d| d.created_at > now)
    );
    // A tenant the fan-out consumer has not looked at yet keeps its events.
    let other = crate::fixture::tenant("t2");
    fx.service
        .bootstrap_super_admin(
            &other,
            "Other",
            "admin@t2.test",
            usermgmt_core::password::Password::new(crate::fixture::PASSWORD),
        )
        .await
        .expect("second tenant");
    fx.clock.advance(Duration::days(8));
    dispatcher.prune().await.expect("prune");
    let kept = storage
        .read_events(&other, 0, 0, 1, 100)
        .await
        .expect("read")
        .events;
    assert!(!kept.is_empty(), "events no consumer has passed are kept");
    fx.service
        .delete_webhook(&fx.admin, b.endpoint.id)
        .await
        .expect("delete");
    assert!(matches!(
        fx.service
            .webhook_deliveries(&fx.admin, b.endpoint.id, 10)
            .await,
        Err(Error::NotFound(_))
    ));
}
