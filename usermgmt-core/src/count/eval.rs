//! Conditions evaluated over a [`TenantIndex`] as compressed sets of slots (roaring):
//! text, flag and presence conditions are unions of per-value sets; numbers and search terms
//! are scanned into a dense bit set first.

use crate::filter::{Cmp, Column, Condition, Operand};
use crate::model::Status;

use roaring::RoaringBitmap as Set;

use super::bits::Bits;
use super::index::{Codes, NULL, TenantIndex, Values, day_number};

/// Whether the index can evaluate every condition (search terms cannot).
pub(super) fn covers(index: &TenantIndex, conditions: &[Condition]) -> bool {
    let codes = |column: &Column| {
        matches!(index.column(*column), Some(Values::Codes(_)))
            && !index.overflowed.contains(column)
    };
    conditions.iter().all(|c| match c {
        Condition::NotDeleted => true,
        Condition::Contains { column, term } => {
            *column == Column::SearchText && index.search.is_some() && !term.contains('\0')
        }
        Condition::Compare { column, cmp, value } => match index.column(*column) {
            Some(Values::Numbers(_)) => operand_number(value).is_some(),
            Some(Values::Codes(_)) => {
                codes(column) && matches!(cmp, Cmp::Eq | Cmp::Ne) && operand_text(value).is_some()
            }
            None => false,
        },
        Condition::AnyOf { column, .. } => codes(column),
        Condition::Present { column, .. } => match index.column(*column) {
            Some(Values::Numbers(_)) => true,
            Some(Values::Codes(_)) => codes(column),
            None => false,
        },
        // Ids are few and found through the primary key: SQL answers them.
        Condition::Ids(_) => false,
        Condition::Either(options) => covers(index, options),
        Condition::Related { related, .. } => index.related(*related).is_some(),
    })
}

/// The slots matching every condition (of a [`covers`]ed list), live ones only.
pub(super) fn matching(index: &TenantIndex, conditions: &[Condition]) -> Set {
    let mut set = index.live.clone();
    for condition in conditions {
        if set.is_empty() {
            break;
        }
        set &= one(index, condition);
    }
    set
}

/// A dense bit set as a compressed one.
fn compress(bits: &Bits) -> Set {
    let bytes: Vec<u8> = bits.iter().flat_map(|w| w.to_le_bytes()).collect();
    Set::from_lsb0_bytes(0, &bytes)
}

/// The slots having one of the codes `wanted` says yes to.
fn union_of(c: &Codes, wanted: impl Fn(usize) -> bool) -> Set {
    let mut set = Set::new();
    for (code, slots) in c.sets.iter().enumerate().skip(1) {
        if wanted(code) {
            set |= slots;
        }
    }
    set
}

/// The slots whose value satisfies `test`, word by word.
fn select<T>(values: &[T], words: usize, test: impl Fn(&T) -> bool) -> Bits {
    let mut bits = vec![0u64; words];
    for (word, chunk) in bits.iter_mut().zip(values.chunks(64)) {
        let mut w = 0u64;
        for (i, v) in chunk.iter().enumerate() {
            w |= u64::from(test(v)) << i;
        }
        *word = w;
    }
    bits
}

/// The codes whose text equals one of `values` (ignoring ASCII case where the column folds);
/// unknown texts match nobody.
fn code_set(codes: &Codes, column: Column, values: &[String]) -> Vec<bool> {
    let mut wanted = vec![false; codes.dict.len().max(1)];
    if column.folded() {
        for (code, text) in codes.dict.iter().enumerate().skip(1) {
            wanted[code] = values.iter().any(|v| v.eq_ignore_ascii_case(text));
        }
    } else {
        for value in values {
            if let Some(code) = codes.code(value) {
                wanted[usize::from(code)] = true;
            }
        }
    }
    wanted
}

fn operand_number(value: &Operand) -> Option<i64> {
    match value {
        Operand::Int(i) => Some(*i),
        Operand::Time(t) => Some(t.timestamp_micros()),
        Operand::Date(d) => Some(day_number(*d)),
        Operand::Bool(_) | Operand::Text(_) => None,
    }
}

fn operand_text(value: &Operand) -> Option<String> {
    match value {
        Operand::Bool(b) => Some(b.to_string()),
        Operand::Text(t) => Some(t.clone()),
        Operand::Int(_) | Operand::Time(_) | Operand::Date(_) => None,
    }
}

fn one(index: &TenantIndex, condition: &Condition) -> Set {
    let words = (index.slots as usize).div_ceil(64);
    match condition {
        Condition::NotDeleted => match index.column(Column::Status) {
            Some(Values::Codes(c)) => {
                let deleted = c.code(Status::Deleted.as_str()).map(usize::from);
                union_of(c, |code| Some(code) != deleted)
            }
            _ => Set::new(),
        },
        Condition::Contains { column, term } => match (&index.search, column) {
            (Some(texts), Column::SearchText) => texts
                .find(term, words)
                .map(|b| compress(&b))
                .unwrap_or_default(),
            _ => Set::new(),
        },
        Condition::Compare { column, cmp, value } => match index.column(*column) {
            Some(Values::Numbers(n)) => match operand_number(value) {
                Some(x) => compress(&select(n, words, |&v| {
                    v != NULL
                        && match cmp {
                            Cmp::Eq => v == x,
                            Cmp::Ne => v != x,
                            Cmp::Lt => v < x,
                            Cmp::Le => v <= x,
                            Cmp::Gt => v > x,
                            Cmp::Ge => v >= x,
                        }
                })),
                None => Set::new(),
            },
            Some(Values::Codes(c)) => match (operand_text(value), cmp) {
                (Some(text), Cmp::Eq | Cmp::Ne) => {
                    let wanted = code_set(c, *column, &[text]);
                    let equal = *cmp == Cmp::Eq;
                    union_of(c, |code| {
                        wanted.get(code).copied().unwrap_or(false) == equal
                    })
                }
                // Text ordering is not a counted comparison ([`covers`] keeps it in SQL).
                _ => Set::new(),
            },
            None => Set::new(),
        },
        Condition::AnyOf { column, values } => match index.column(*column) {
            Some(Values::Codes(c)) => {
                let wanted = code_set(c, *column, values);
                union_of(c, |code| wanted.get(code).copied().unwrap_or(false))
            }
            _ => Set::new(),
        },
        Condition::Present { column, present } => match index.column(*column) {
            Some(Values::Codes(c)) => {
                let any = union_of(c, |_| true);
                if *present { any } else { &index.live - &any }
            }
            Some(Values::Numbers(n)) => compress(&select(n, words, |&v| (v != NULL) == *present)),
            None => Set::new(),
        },
        // Never asked: [`covers`] leaves ids to SQL.
        Condition::Ids(_) => Set::new(),
        Condition::Either(options) => {
            let mut set = Set::new();
            for option in options {
                set |= one(index, option);
            }
            set
        }
        Condition::Related {
            related,
            values,
            exists,
        } => {
            let mut set = Set::new();
            if let Some(by_value) = index.related(*related) {
                let wanted = |value: &String| {
                    values.is_empty()
                        || values.iter().any(|v| {
                            if related.folded() {
                                v.eq_ignore_ascii_case(value)
                            } else {
                                v == value
                            }
                        })
                };
                for (value, slots) in by_value {
                    if wanted(value) {
                        set |= slots;
                    }
                }
            }
            if *exists { set } else { &index.live - &set }
        }
    }
}
