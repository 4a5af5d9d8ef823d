//! Embedding usermgmt on a SQLite file: bootstrap an admin, create a few users, list them
//! with two filters and a search, and print the page.
//!
//! Run with `cargo run --example quickstart [PATH]` (default `quickstart.db`, recreated on
//! every run).

use std::sync::Arc;

use usermgmt::filter::{ListQuery, SortBy, SortOrder, UserFilters};
use usermgmt::model::{Status, TenantId};
use usermgmt::password::Password;
use usermgmt::service::CreateUser;
use usermgmt::sqlite::SqliteStorage;
use usermgmt::{Principal, UserService};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "quickstart.db".to_owned());
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{suffix}"));
    }
    let storage = SqliteStorage::open(&path).await?;
    let service = UserService::new(Arc::new(storage));
    let tenant = TenantId::default_tenant();

    let admin = service
        .bootstrap_super_admin(
            &tenant,
            "Quickstart Admin",
            "admin@example.com",
            Password::new("change-me-now"),
        )
        .await?;
    let me = Principal::user(tenant, admin.id);
    println!(
        "admin {} <{}> (roles: {})",
        admin.name,
        admin.email.as_deref().unwrap_or("-"),
        admin.roles.join(", ")
    );

    let people = [
        (
            "Ada Lovelace",
            "ada@example.com",
            "GB",
            "London",
            Status::Active,
        ),
        (
            "Grace Hopper",
            "grace@example.com",
            "US",
            "Arlington",
            Status::Active,
        ),
        (
            "Alan Turing",
            "alan@example.com",
            "GB",
            "Manchester",
            Status::Suspended,
        ),
        (
            "Katherine Johnson",
            "katherine@example.com",
            "US",
            "Hampton",
            Status::Active,
        ),
        (
            "Adele Goldberg",
            "adele@example.com",
            "US",
            "Palo Alto",
            Status::Active,
        ),
    ];
    for (name, email, country, city, status) in people {
        let input = CreateUser {
            name: name.into(),
            email: Some(email.into()),
            country: Some(country.into()),
            city: Some(city.into()),
            status: Some(status),
            is_learner: true,
            ..Default::default()
        };
        service.create_user(&me, input).await?;
    }

    // Two filters (status, country) and a search, sorted by name.
    let query = ListQuery {
        filters: UserFilters {
            status: Some(Status::Active),
            country: vec!["US".into()],
            search: Some("a".into()),
            ..Default::default()
        },
        sort_by: SortBy::Name,
        sort_order: SortOrder::Asc,
        ..Default::default()
    };
    let page = service.list_users(&me, query).await?;
    println!(
        "\nactive users in US matching \"a\": {} of {}",
        page.items.len(),
        page.total.unwrap_or(0)
    );
    println!(
        "{:<20} {:<24} {:<8} {:<10} {:<10} created",
        "name", "email", "country", "city", "status"
    );
    for user in &page.items {
        println!(
            "{:<20} {:<24} {:<8} {:<10} {:<10} {}",
            user.name,
            user.email.as_deref().unwrap_or("-"),
            user.profile.country.as_deref().unwrap_or("-"),
            user.profile.city.as_deref().unwrap_or("-"),
            user.status.as_str(),
            user.created_at.format("%Y-%m-%d %H:%M:%S"),
        );
    }
    println!("\n(database: {path})");
    Ok(())
}
