//! One tenant's counted attributes, column by column, by slot.

use std::collections::HashMap;

use roaring::RoaringBitmap;
use uuid::Uuid;

use crate::filter::{Column, Related};

use super::search::SearchTexts;
use crate::model::User;

/// A number column's "no value".
pub(super) const NULL: i64 = i64::MIN;

/// The columns the index keeps, in storage order.
pub(super) const COLUMNS: [Column; 24] = [
    Column::Status,
    Column::IsAdmin,
    Column::IsInstructor,
    Column::IsLearner,
    Column::EmailVerified,
    Column::PhoneVerified,
    Column::AuthMethod,
    Column::PasswordHash,
    Column::AvatarUrl,
    Column::Bio,
    Column::Country,
    Column::City,
    Column::State,
    Column::Continent,
    Column::Timezone,
    Column::Locale,
    Column::Gender,
    Column::Designation,
    Column::ProfileCompleteness,
    Column::DateOfBirth,
    Column::CreatedAt,
    Column::LastLoginAt,
    Column::LockedUntil,
    Column::FailedLoginAttempts,
];

/// The related rows the index keeps.
pub(super) const RELATED: [Related; 3] = [Related::OAuth, Related::Expertise, Related::Role];

/// A stored value of a user, as a condition compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Cell {
    /// No value (SQL NULL).
    Null,
    /// Text, as stored (conditions fold it where [`Column::folded`]); booleans as `true` /
    /// `false`; presence-only columns as the empty text.
    Text(String),
    /// A number; instants in microseconds, dates in days since 0001-01-01.
    Number(i64),
}

fn text(value: Option<&str>) -> Cell {
    value.map_or(Cell::Null, |v| Cell::Text(v.to_owned()))
}

fn flag(value: bool) -> Cell {
    Cell::Text(if value { "true" } else { "false" }.to_owned())
}

fn presence(present: bool) -> Cell {
    if present {
        Cell::Text(String::new())
    } else {
        Cell::Null
    }
}

fn micros(t: Option<chrono::DateTime<chrono::Utc>>) -> Cell {
    t.map_or(Cell::Null, |t| Cell::Number(t.timestamp_micros()))
}

/// A calendar date as a number (days since 0001-01-01).
pub(super) fn day_number(date: chrono::NaiveDate) -> i64 {
    i64::from(chrono::Datelike::num_days_from_ce(&date))
}

/// The value a condition on `column` sees for `user`.
pub(super) fn cell(user: &User, column: Column) -> Cell {
    let p = &user.profile;
    match column {
        Column::Status => Cell::Text(user.status.as_str().to_owned()),
        Column::IsAdmin => flag(user.is_admin),
        Column::IsInstructor => flag(user.is_instructor),
        Column::IsLearner => flag(user.is_learner),
        Column::EmailVerified => flag(user.email_verified),
        Column::PhoneVerified => flag(user.phone_verified),
        Column::AuthMethod => Cell::Text(user.auth_method.as_str().to_owned()),
        Column::PasswordHash => presence(user.has_password),
        Column::AvatarUrl => presence(p.avatar_url.is_some()),
        Column::Bio => presence(p.bio.is_some()),
        Column::Country => text(p.country.as_deref()),
        Column::City => text(p.city.as_deref()),
        Column::State => text(p.state.as_deref()),
        Column::Continent => text(p.continent.map(|c| c.as_str())),
        Column::Timezone => text(p.timezone.as_deref()),
        Column::Locale => text(p.locale.as_deref()),
        Column::Gender => text(p.gender.map(|g| g.as_str())),
        Column::Designation => text(p.designation.as_deref()),
        Column::ProfileCompleteness => Cell::Number(i64::from(user.profile_completeness)),
        Column::DateOfBirth => p
            .date_of_birth
            .map_or(Cell::Null, |d| Cell::Number(day_number(d))),
        Column::CreatedAt => micros(Some(user.created_at)),
        Column::LastLoginAt => micros(user.last_login_at),
        Column::LockedUntil => micros(user.locked_until),
        Column::FailedLoginAttempts => Cell::Number(i64::from(user.failed_login_attempts)),
        Column::SearchText
        | Column::NameKey
        | Column::Email
        | Column::EmailKey
        | Column::UsernameKey
        | Column::UniqueIdKey => Cell::Null,
    }
}

/// The related values of `user`, as stored.
pub(super) fn related_values(user: &User, related: Related) -> Vec<String> {
    match related {
        Related::OAuth => user
            .oauth_providers
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect(),
        Related::Expertise => user.profile.expertise.clone(),
        Related::Role => user.roles.clone(),
        // Not in [`RELATED`]: a role's permissions are not the user's to index, so lists
        // filtered by permission are counted by the store.
        Related::Permission => Vec::new(),
    }
}

/// A dictionary-coded text column: code 0 is "no value".
#[derive(Debug, Default)]
pub(super) struct Codes {
    pub(super) codes: Vec<u16>,
    pub(super) dict: Vec<String>,
    lookup: HashMap<String, u16>,
    /// Per code, the slots having it (code 0's set stays empty).
    pub(super) sets: Vec<RoaringBitmap>,
}

impl Codes {
    /// Gives a slot the code `code`, keeping the per-code sets in step.
    fn assign(&mut self, at: usize, slot: u32, code: u16) {
        let old = self.codes[at];
        if old == code {
            return;
        }
        if let Some(set) = self.sets.get_mut(usize::from(old)) {
            set.remove(slot);
        }
        if code != 0 {
            if self.sets.len() <= usize::from(code) {
                self.sets
                    .resize_with(usize::from(code) + 1, RoaringBitmap::new);
            }
            self.sets[usize::from(code)].insert(slot);
        }
        self.codes[at] = code;
    }
}

impl Codes {
    /// The code of `value`, if any user ever had it.
    pub(super) fn code(&self, value: &str) -> Option<u16> {
        self.lookup.get(value).copied()
    }

    /// The code for `value`, added when new; `None` when the dictionary is full.
    fn intern(&mut self, value: &str) -> Option<u16> {
        if let Some(code) = self.lookup.get(value) {
            return Some(*code);
        }
        if self.dict.is_empty() {
            self.dict.push(String::new()); // code 0: no value
        }
        let code = u16::try_from(self.dict.len()).ok()?;
        self.dict.push(value.to_owned());
        self.lookup.insert(value.to_owned(), code);
        Some(code)
    }
}

/// A column's values by slot.
#[derive(Debug)]
pub(super) enum Values {
    /// Text, booleans and presence.
    Codes(Codes),
    /// Numbers ([`NULL`]: no value).
    Numbers(Vec<i64>),
}

/// Whether a column holds numbers.
fn numeric(column: Column) -> bool {
    matches!(
        column,
        Column::ProfileCompleteness
            | Column::DateOfBirth
            | Column::CreatedAt
            | Column::LastLoginAt
            | Column::LockedUntil
            | Column::FailedLoginAttempts
    )
}

/// One tenant's users as columns.
#[derive(Debug)]
pub(super) struct TenantIndex {
    slot_of: HashMap<Uuid, u32>,
    free: Vec<u32>,
    /// Slots holding a user.
    pub(super) live: RoaringBitmap,
    /// Slots in use so far (live or free).
    pub(super) slots: u32,
    pub(super) columns: Vec<Values>,
    /// Per related kind, per value, the slots having it.
    pub(super) related: Vec<HashMap<String, RoaringBitmap>>,
    /// Columns whose dictionary overflowed: conditions on them are counted in SQL.
    pub(super) overflowed: Vec<Column>,
    /// The users' search texts ([`User::search_text`]), when searches are kept (and fit).
    pub(super) search: Option<SearchTexts>,
}

impl TenantIndex {
    /// An empty index; `search` keeps each user's search text so search terms count here too.
    pub(super) fn new(search: bool) -> Self {
        Self {
            search: search.then(SearchTexts::default),
            slot_of: HashMap::new(),
            free: Vec::new(),
            live: RoaringBitmap::new(),
            slots: 0,
            columns: COLUMNS
                .iter()
                .map(|c| {
                    if numeric(*c) {
                        Values::Numbers(Vec::new())
                    } else {
                        Values::Codes(Codes::default())
                    }
                })
                .collect(),
            related: RELATED.iter().map(|_| HashMap::new()).collect(),
            overflowed: Vec::new(),
        }
    }

    /// How many users it holds.
    pub(super) fn len(&self) -> usize {
        self.slot_of.len()
    }

    /// Whether a column's dictionary overflowed (its values are incomplete).
    pub(super) fn overflowed(&self, column: Column) -> bool {
        self.overflowed.contains(&column)
    }

    /// The storage position of a column, when kept.
    pub(super) fn column(&self, column: Column) -> Option<&Values> {
        let at = COLUMNS.iter().position(|c| *c == column)?;
        self.columns.get(at)
    }

    /// The slots having each value of a related kind.
    pub(super) fn related(&self, related: Related) -> Option<&HashMap<String, RoaringBitmap>> {
        let at = RELATED.iter().position(|r| *r == related)?;
        self.related.get(at)
    }

    /// The slots of these users (ids not held are left out).
    pub(super) fn slots_of(&self, ids: &[Uuid]) -> RoaringBitmap {
        let mut slots: Vec<u32> = ids
            .iter()
            .filter_map(|id| self.slot_of.get(id).copied())
            .collect();
        slots.sort_unstable();
        RoaringBitmap::from_sorted_iter(slots).unwrap_or_default()
    }

    /// Stores (or replaces) a user.
    pub(super) fn put(&mut self, user: &User) {
        let mut fresh = false;
        let slot = match self.slot_of.get(&user.id) {
            Some(slot) => *slot,
            None => {
                // A new or freed slot holds no related value: nothing to take away below.
                fresh = true;
                let slot = match self.free.pop() {
                    Some(slot) => slot,
                    None => {
                        let slot = self.slots;
                        self.slots += 1;
                        for values in &mut self.columns {
                            match values {
                                Values::Codes(c) => c.codes.push(0),
                                Values::Numbers(n) => n.push(NULL),
                            }
                        }
                        slot
                    }
                };
                self.slot_of.insert(user.id, slot);
                slot
            }
        };
        let at = slot as usize;
        for (column, values) in COLUMNS.iter().zip(self.columns.iter_mut()) {
            match (values, cell(user, *column)) {
                (Values::Numbers(n), Cell::Number(v)) => n[at] = v,
                (Values::Numbers(n), _) => n[at] = NULL,
                (Values::Codes(c), Cell::Text(v)) => match c.intern(&v) {
                    Some(code) => c.assign(at, slot, code),
                    None => {
                        c.assign(at, slot, 0);
                        if !self.overflowed.contains(column) {
                            self.overflowed.push(*column);
                        }
                    }
                },
                (Values::Codes(c), _) => c.assign(at, slot, 0),
            }
        }
        for (kind, values) in RELATED.iter().zip(self.related.iter_mut()) {
            let mine = related_values(user, *kind);
            if !fresh {
                for (value, slots) in values.iter_mut() {
                    if !mine.contains(value) {
                        slots.remove(slot);
                    }
                }
            }
            for value in mine {
                values.entry(value).or_default().insert(slot);
            }
        }
        if let Some(texts) = &mut self.search
            && !texts.set(slot, Some(&user.search_text()))
        {
            self.search = None;
        }
        self.live.insert(slot);
    }

    /// Forgets a user.
    pub(super) fn remove(&mut self, id: Uuid) {
        if let Some(slot) = self.slot_of.remove(&id) {
            let at = slot as usize;
            self.live.remove(slot);
            for values in &mut self.columns {
                match values {
                    Values::Codes(c) => c.assign(at, slot, 0),
                    Values::Numbers(n) => n[at] = NULL,
                }
            }
            for values in &mut self.related {
                for slots in values.values_mut() {
                    slots.remove(slot);
                }
            }
            if let Some(texts) = &mut self.search {
                texts.set(slot, None);
            }
            self.free.push(slot);
        }
    }

    /// Gives back the memory growth left spare (after a build).
    pub(super) fn shrink(&mut self) {
        for values in &mut self.columns {
            match values {
                Values::Codes(c) => c.codes.shrink_to_fit(),
                Values::Numbers(n) => n.shrink_to_fit(),
            }
        }
        self.slot_of.shrink_to_fit();
        if let Some(texts) = &mut self.search {
            texts.shrink();
        }
    }

    /// Bytes held, roughly (for reports).
    pub(super) fn heap_bytes(&self) -> usize {
        let columns: usize = self
            .columns
            .iter()
            .map(|v| match v {
                Values::Codes(c) => {
                    c.codes.capacity() * 2 + c.dict.iter().map(String::len).sum::<usize>() * 2
                }
                Values::Numbers(n) => n.capacity() * 8,
            })
            .sum();
        let related: usize = self
            .related
            .iter()
            .flat_map(|m| m.values())
            .map(|b| b.serialized_size())
            .sum();
        let search = self.search.as_ref().map_or(0, SearchTexts::heap_bytes);
        columns + related + search + self.live.serialized_size() + self.slot_of.capacity() * 24
    }
}
