//! # usermgmt-testkit
//!
//! The conformance suite every `usermgmt` storage backend runs, and the data generators it
//! uses. Cases are plain `async fn case(store: TestStore)` functions in [`cases`]; the
//! [`conformance_suite!`] macro only stamps out one `#[tokio::test]` per case for a backend's
//! factory. The differential property test ([`differential`]) checks a backend against
//! core's reference filter model; the invariant property test ([`invariants`]) checks the
//! security rules under random operation sequences by random actors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod cases;
pub mod counting;
pub mod dataset;
pub mod demo;
pub mod differential;
pub mod enrollments;
pub mod fixture;
pub mod invariants;
pub mod realistic;
pub mod store;
pub mod values;

pub use store::{IntoTestStore, ManualClock, OutboxFault, TestStore};

/// The runtime property tests run on: two worker threads, as CI's machines have two cores.
pub fn property_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("a test runtime: {e}"))
}

/// The cases a property test runs: `USERMGMT_PROPTEST_CASES` when set, else `default`.
pub fn property_cases(default: u32) -> u32 {
    std::env::var("USERMGMT_PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default)
}

/// Stamps out one `#[tokio::test]` per conformance case, and the invariant property test
/// ([`invariants`]), for a backend. `$factory` is an `async fn()` returning a fresh, empty [`TestStore`]
/// (or `Option<TestStore>`, `None` to skip) on every call. The case list is [`CASES`]; a test
/// of this crate fails when a `pub async fn` of [`cases`] is missing from it.
#[macro_export]
macro_rules! conformance_suite {
    ($factory:path) => {
        $crate::__with_cases! { @cases $factory; }
    };
    (@names; $($case:ident),+ $(,)?) => {
        &[$(stringify!($case)),+]
    };
    (@cases $factory:path; $($case:ident),+ $(,)?) => {
        /// The security invariants under random operation sequences by random actors.
        #[test]
        fn security_invariants_under_random_operations() {
            $crate::invariants::run_from_env($factory);
        }

        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                if let Some(store) = $crate::IntoTestStore::into_test_store($factory().await) {
                    $crate::cases::$case(store).await;
                }
            }
        )+
    };
}

/// The one list of conformance cases, handed to a `conformance_suite!` arm.
#[doc(hidden)]
#[macro_export]
macro_rules! __with_cases {
    ($($prefix:tt)*) => {
        $crate::conformance_suite! { $($prefix)*
            create_and_get_round_trip,
            create_reports_every_invalid_field,
            create_refuses_taken_values_per_tenant,
            get_unknown_or_foreign_user_is_not_found,
            list_excludes_deleted_and_orders_stably,
            list_pages_by_offset_and_cursor_agree,
            list_validates_paging_and_filters,
            list_search_matches_substrings,
            list_skips_cross_service_filters,
            update_is_partial_and_versioned,
            update_with_stale_version_changes_nothing,
            update_credentials_directly_and_audits,
            update_status_and_reactivate,
            update_validation_changes_nothing,
            concurrent_edits_at_same_version_one_wins,
            concurrent_creates_with_same_email_one_wins,
            delete_is_soft_and_reversible,
            bulk_delete_by_ids,
            bulk_delete_by_filter,
            roles_crud_and_conflicts,
            related_lists_follow_every_write,
            no_privilege_escalation,
            effective_permissions_are_the_union,
            host_permissions_are_first_class,
            unknown_permission_names_are_refused,
            host_permissions_follow_no_escalation,
            the_host_check_honours_status_and_impersonation,
            unregistered_stored_permissions_grant_nothing,
            a_grown_registry_still_keeps_a_super_admin,
            lists_filter_by_effective_permission,
            the_one_read_check_answers_as_the_two_calls,
            a_reset_link_works_once,
            reset_links_are_superseded_expire_and_stay_in_their_tenant,
            requested_resets_answer_the_same,
            users_delete_their_own_account,
            an_invitation_sets_a_password_verifies_and_activates,
            verification_by_link_or_code_activates,
            codes_and_links_hold_against_guessing_and_stale_state,
            foreign_password_hashes_sign_in_and_are_rehashed,
            an_import_is_validated_and_all_or_nothing,
            an_import_cannot_escalate_and_checks_passwords,
            an_upsert_updates_the_users_its_rows_name,
            every_operation_requires_its_permission,
            inactive_and_system_principals_are_refused,
            tenants_are_isolated,
            secrets_never_leave_storage,
            bootstrap_is_idempotent,
            login_with_any_identifier,
            login_refusals,
            lockout_after_failed_logins,
            parallel_failed_logins_all_count,
            sessions_list_terminate_expire,
            sessions_record_last_seen,
            credential_and_status_changes_end_sessions,
            impersonation_modes,
            impersonation_rules,
            read_only_impersonation_refuses_every_change,
            audit_log_pages_newest_first,
            notes_are_kept_and_audited,
            unique_ids_set_or_generated,
            parallel_unique_id_generation_never_repeats,
            oauth_link_and_unlink,
            system_get_or_create_is_idempotent,
            system_lookups_and_grants,
            stats_counts,
            stats_honour_filters,
            overview_compares_periods,
            growth_series_are_zero_filled,
            filter_and_field_values,
            export_matches_the_list,
            an_export_sees_one_snapshot,
            batch_insert_is_all_or_nothing,
            batch_insert_round_trips_every_field,
            enrollment_filters_use_the_source,
            enrollment_source_failures_skip_or_fail,
            bulk_delete_refuses_filters_selecting_everyone,
            bulk_delete_audits_the_old_status,
            impersonation_dies_with_its_impersonator,
            the_last_super_admin_is_kept,
            request_lists_are_capped,
            growth_refuses_extreme_dates,
            notes_respect_rank,
            digit_usernames_sign_in,
            lockout_does_not_reveal_accounts,
            a_known_client_passes_the_lock,
            bootstrap_never_promotes_a_stranger,
            concurrent_removals_keep_a_super_admin,
            records_are_written_only_under_their_tenant,
            provisioning_tokens_act_within_their_creator,
            scim_filters_give_what_the_reference_gives,
            role_members_change_together,
            events_commit_and_roll_back_with_their_change,
            a_bulk_write_announces_every_event_in_order,
            events_reach_a_subscriber_in_order_per_user,
            a_subscriber_resumes_after_a_restart,
            two_instances_share_a_consumer,
            webhooks_deliver_retry_and_dead_letter
        }
    };
}

/// The names of the conformance cases every backend runs.
pub const CASES: &[&str] = __with_cases! { @names; };
