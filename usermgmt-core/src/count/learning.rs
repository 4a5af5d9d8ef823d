//! One tenant's enrollments, column by column (a row per enrollment, a chain of rows per
//! learner), and the enrollment filters evaluated over them with exactly the reference
//! semantics of [`EnrollmentFilters::matches_enrollments`].

use std::collections::HashMap;

use uuid::Uuid;

use crate::filter::{EnrollmentFilters, EnrollmentMatch};
use crate::model::{Enrollment, EnrollmentStatus};

/// "No row": the end of a chain, or a learner without enrollments.
const NONE: u32 = u32::MAX;
/// "No activity" in the activity column.
const NO_ACTIVITY: i64 = i64::MIN;

/// Text values coded by first appearance.
#[derive(Debug, Default)]
struct Dictionary {
    codes: HashMap<String, u32>,
    len: u32,
}

impl Dictionary {
    fn intern(&mut self, value: &str) -> u32 {
        if let Some(code) = self.codes.get(value) {
            return *code;
        }
        let code = self.len;
        self.len = self.len.saturating_add(1);
        self.codes.insert(value.to_owned(), code);
        code
    }

    /// Which codes are among `values` (codes of values never seen cannot match).
    fn wanted(&self, values: &[String]) -> Vec<bool> {
        let mut wanted = vec![false; self.len as usize];
        for value in values {
            if let Some(code) = self.codes.get(value)
                && let Some(slot) = wanted.get_mut(*code as usize)
            {
                *slot = true;
            }
        }
        wanted
    }
}

fn status_code(status: EnrollmentStatus) -> u8 {
    EnrollmentStatus::ALL
        .iter()
        .position(|s| *s == status)
        .and_then(|at| u8::try_from(at).ok())
        .unwrap_or(u8::MAX)
}

/// A tenant's enrollments.
#[derive(Debug, Default)]
pub(super) struct LearningIndex {
    learner_of: HashMap<Uuid, u32>,
    learners: Vec<Uuid>,
    /// The learners in id order (so a match is listed sorted), unless `unordered`.
    order: Vec<u32>,
    /// Learners were added by a full read and not yet put in order ([`Self::shrink`] does).
    unordered: bool,
    /// Per learner, its first row ([`NONE`]: no enrollment).
    head: Vec<u32>,
    /// Per row: the next row of the same learner, the learner ([`NONE`]: removed row), and
    /// the enrollment's values.
    next: Vec<u32>,
    learner: Vec<u32>,
    status: Vec<u8>,
    program_type: Vec<u32>,
    program_id: Vec<u32>,
    progress: Vec<u8>,
    time: Vec<u64>,
    activity: Vec<i64>,
    removed: usize,
    types: Dictionary,
    programs: Dictionary,
}

impl LearningIndex {
    /// Rows held (live ones).
    pub(super) fn rows(&self) -> usize {
        self.learner.len() - self.removed
    }

    /// Bytes held, roughly (for reports).
    pub(super) fn heap_bytes(&self) -> usize {
        self.learner.capacity() * (4 + 4 + 1 + 4 + 4 + 1 + 8 + 8)
            + self.learners.capacity() * (16 + 4 + 4 + 24)
    }

    fn learner(&mut self, user: Uuid) -> u32 {
        if let Some(at) = self.learner_of.get(&user) {
            return *at;
        }
        let at = u32::try_from(self.learners.len()).unwrap_or(NONE);
        if self.unordered {
            self.order.push(at);
        } else {
            let learners = &self.learners;
            let place = self
                .order
                .partition_point(|l| learners.get(*l as usize).is_some_and(|id| *id < user));
            self.order.insert(place, at);
        }
        self.learners.push(user);
        self.head.push(NONE);
        self.learner_of.insert(user, at);
        at
    }

    fn push(&mut self, learner: u32, e: &Enrollment) {
        let Some(head) = self.head.get_mut(learner as usize) else {
            return;
        };
        let row = u32::try_from(self.learner.len()).unwrap_or(NONE);
        self.next.push(*head);
        *head = row;
        self.learner.push(learner);
        self.status.push(status_code(e.status));
        self.program_type.push(self.types.intern(&e.program_type));
        self.program_id.push(self.programs.intern(&e.program_id));
        self.progress.push(e.progress);
        self.time.push(e.time_spent_seconds);
        self.activity.push(
            e.last_activity_at
                .map_or(NO_ACTIVITY, |t| t.timestamp_micros()),
        );
    }

    /// Adds enrollments to their users' (a full read: [`Self::shrink`] ends it).
    pub(super) fn add(&mut self, enrollments: &[Enrollment]) {
        self.unordered = true;
        self.add_rows(enrollments);
    }

    fn add_rows(&mut self, enrollments: &[Enrollment]) {
        for e in enrollments {
            let learner = self.learner(e.user_id);
            self.push(learner, e);
        }
    }

    /// Makes `users`' enrollments exactly those of `enrollments` (users absent from it have
    /// none left).
    pub(super) fn replace(&mut self, users: &[Uuid], enrollments: &[Enrollment]) {
        for user in users {
            let Some(&learner) = self.learner_of.get(user) else {
                continue;
            };
            let Some(head) = self.head.get_mut(learner as usize) else {
                continue;
            };
            let mut row = std::mem::replace(head, NONE);
            while let Some(at) = usize::try_from(row).ok().filter(|_| row != NONE) {
                self.learner[at] = NONE;
                self.removed += 1;
                row = self.next[at];
            }
        }
        self.shrink_order();
        // Few new learners go to their place; many are appended and sorted once.
        self.unordered = enrollments.len() > 256;
        self.add_rows(enrollments);
        self.shrink_order();
        if self.removed > 4096 && self.removed > self.learner.len() / 2 {
            self.compact();
        }
    }

    /// Drops removed rows.
    fn compact(&mut self) {
        let mut kept = LearningIndex {
            learner_of: std::mem::take(&mut self.learner_of),
            learners: std::mem::take(&mut self.learners),
            order: std::mem::take(&mut self.order),
            unordered: self.unordered,
            head: vec![NONE; self.head.len()],
            types: std::mem::take(&mut self.types),
            programs: std::mem::take(&mut self.programs),
            ..Default::default()
        };
        for row in 0..self.learner.len() {
            let learner = self.learner[row];
            let Some(head) = kept.head.get_mut(learner as usize) else {
                continue;
            };
            let at = u32::try_from(kept.learner.len()).unwrap_or(NONE);
            kept.next.push(*head);
            *head = at;
            kept.learner.push(learner);
            kept.status.push(self.status[row]);
            kept.program_type.push(self.program_type[row]);
            kept.program_id.push(self.program_id[row]);
            kept.progress.push(self.progress[row]);
            kept.time.push(self.time[row]);
            kept.activity.push(self.activity[row]);
        }
        *self = kept;
    }

    /// Puts the learners a full read added in id order.
    fn shrink_order(&mut self) {
        if self.unordered {
            let learners = &self.learners;
            self.order
                .sort_unstable_by_key(|l| learners.get(*l as usize).copied().unwrap_or_default());
            self.unordered = false;
        }
    }

    /// Ends a full read: orders the learners and gives back the memory growth left spare.
    pub(super) fn shrink(&mut self) {
        self.shrink_order();
        self.order.shrink_to_fit();
        self.next.shrink_to_fit();
        self.learner.shrink_to_fit();
        self.status.shrink_to_fit();
        self.program_type.shrink_to_fit();
        self.program_id.shrink_to_fit();
        self.progress.shrink_to_fit();
        self.time.shrink_to_fit();
        self.activity.shrink_to_fit();
        self.learners.shrink_to_fit();
        self.head.shrink_to_fit();
        self.learner_of.shrink_to_fit();
    }

    /// The users the enrollment filters leave (ids sorted), as
    /// [`EnrollmentFilters::enrollment_match`] defines it.
    pub(super) fn matching(&self, filters: &EnrollmentFilters) -> EnrollmentMatch {
        let enrolled = |learner: usize| self.head.get(learner).is_some_and(|h| *h != NONE);
        let conditions =
            filters.has_enrollment_conditions() || filters.total_time_spent_min.is_some();
        if filters.has_enrollments == Some(false) {
            if conditions {
                return EnrollmentMatch::Only(Vec::new());
            }
            return EnrollmentMatch::except(self.users_where(enrolled));
        }
        if !conditions {
            return EnrollmentMatch::only(self.users_where(enrolled));
        }
        let mut status = [filters.enrollment_status.is_empty(); 256];
        for s in &filters.enrollment_status {
            status[usize::from(status_code(*s))] = true;
        }
        let types = (!filters.enrolled_program_type.is_empty())
            .then(|| self.types.wanted(&filters.enrolled_program_type));
        let programs = (!filters.enrolled_program_ids.is_empty())
            .then(|| self.programs.wanted(&filters.enrolled_program_ids));
        let (low, high) = (
            filters.progress_min.unwrap_or(0),
            filters.progress_max.unwrap_or(u8::MAX),
        );
        // Activity is held in whole microseconds: a bound between two is rounded up.
        let since = filters.last_learning_activity_after.map(|t| {
            let micros = t.timestamp_micros();
            if t.timestamp_subsec_nanos() % 1000 == 0 {
                micros
            } else {
                micros.saturating_add(1)
            }
        });
        let code_ok = |wanted: &Option<Vec<bool>>, code: u32| {
            wanted
                .as_ref()
                .is_none_or(|w| w.get(code as usize).copied().unwrap_or(false))
        };
        // Per learner: whether an enrollment matched, and the time of those that did.
        let mut matched = vec![false; self.learners.len()];
        let mut time = filters
            .total_time_spent_min
            .map(|_| vec![0u64; self.learners.len()]);
        for row in 0..self.learner.len() {
            let learner = self.learner[row] as usize;
            if learner == NONE as usize
                || !status[usize::from(self.status[row])]
                || !(low..=high).contains(&self.progress[row])
                || !code_ok(&types, self.program_type[row])
                || !code_ok(&programs, self.program_id[row])
                || since
                    .is_some_and(|t| self.activity[row] == NO_ACTIVITY || self.activity[row] < t)
            {
                continue;
            }
            if let Some(slot) = matched.get_mut(learner) {
                *slot = true;
            }
            if let Some(sum) = time.as_mut().and_then(|t| t.get_mut(learner)) {
                *sum = sum.saturating_add(self.time[row]);
            }
        }
        let min = filters.total_time_spent_min.unwrap_or(0);
        EnrollmentMatch::only(
            self.users_where(|l| matched[l] && time.as_ref().is_none_or(|t| t[l] >= min)),
        )
    }

    /// The ids of the learners `keep` keeps, in id order (after a full read has ended).
    fn users_where(&self, keep: impl Fn(usize) -> bool) -> Vec<Uuid> {
        self.order
            .iter()
            .map(|l| *l as usize)
            .filter(|l| keep(*l))
            .filter_map(|l| self.learners.get(l).copied())
            .collect()
    }
}

/// Whether a tenant's enrollment index can answer.
#[derive(Debug, Clone, Copy, Default)]
pub(super) enum LearningStatus {
    /// Never read.
    #[default]
    Unknown,
    /// A full read is under way.
    Building,
    /// No feed (or the read failed) at this time.
    NoFeed(std::time::Instant),
    /// Built and followed.
    Ready,
}

#[cfg(test)]
#[path = "learning_tests.rs"]
mod tests;
