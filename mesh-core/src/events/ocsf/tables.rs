//! Schema facts per class (captions, required and allowed attributes,
//! profiles) as compact tables, generated from the OCSF 1.8.0 schema.

use super::generated::{Class, ATTR_WORDS, CLASSES, EVENT_ATTRS};

/// A set of event attributes, one bit per attribute index.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct AttrSet(pub(crate) [u64; ATTR_WORDS]);

impl AttrSet {
    /// The attributes in `self` that are not in `other`.
    pub(crate) fn minus(self, other: AttrSet) -> AttrSet {
        let mut w = self.0;
        for (a, b) in w.iter_mut().zip(other.0) {
            *a &= !b;
        }
        AttrSet(w)
    }

    /// The attributes in both sets.
    pub(crate) fn and(self, other: AttrSet) -> AttrSet {
        let mut w = self.0;
        for (a, b) in w.iter_mut().zip(other.0) {
            *a &= b;
        }
        AttrSet(w)
    }

    /// Whether attribute index `i` is in the set.
    pub(crate) fn contains(self, i: usize) -> bool {
        self.0
            .get(i / 64)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }

    /// The set with attribute index `i` added.
    pub(crate) fn with(mut self, i: usize) -> AttrSet {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w |= 1u64 << (i % 64);
        }
        self
    }

    /// The index of the attribute named `name`.
    pub(crate) fn index_of(name: &str) -> Option<usize> {
        EVENT_ATTRS.binary_search(&name).ok()
    }

    /// The number of attributes in the set.
    pub(crate) fn len(self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }

    /// Whether the set is empty.
    pub(crate) fn is_empty(self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    /// The attribute names in the set.
    pub(crate) fn names(self) -> impl Iterator<Item = &'static str> {
        (0..ATTR_WORDS * 64).filter_map(move |i| {
            let word = self.0.get(i / 64)?;
            if word & (1u64 << (i % 64)) != 0 {
                EVENT_ATTRS.get(i).copied()
            } else {
                None
            }
        })
    }
}

/// An integer enum attribute and its caption sibling (`severity_id` → `severity`).
#[derive(Debug)]
pub(crate) struct EnumTable {
    /// Attribute index of the `*_id` attribute.
    pub(crate) id: u16,
    /// Attribute index of the caption attribute.
    pub(crate) caption: u16,
    /// `(id, caption)` pairs sorted by id.
    pub(crate) values: &'static [(i64, &'static str)],
}

impl EnumTable {
    /// The caption of `id`.
    pub(crate) fn caption_of(&self, id: i64) -> Option<&'static str> {
        lookup(self.values, id)
    }
}

/// Schema facts of one class.
#[derive(Debug)]
pub(crate) struct ClassInfo {
    /// `class_uid`.
    pub(crate) uid: i64,
    /// Schema name (`authentication`).
    pub(crate) name: &'static str,
    /// Caption (`Authentication`).
    pub(crate) caption: &'static str,
    /// `category_uid`.
    pub(crate) category_uid: i64,
    /// Category caption.
    pub(crate) category_name: &'static str,
    /// `(activity_id, caption)` sorted by id.
    pub(crate) activities: &'static [(i64, &'static str)],
    /// Attributes required by the class itself (not by a profile).
    pub(crate) required: AttrSet,
    /// Attributes the class admits (with its profiles).
    pub(crate) allowed: AttrSet,
    /// Enum attributes of the class and their captions.
    pub(crate) enums: &'static [EnumTable],
    /// Profiles the class admits and the attributes each adds.
    pub(crate) profiles: &'static [(&'static str, AttrSet)],
    /// Attributes of which at least one must be present (may be empty).
    pub(crate) at_least_one: AttrSet,
    /// Attributes of which exactly one must be present (may be empty).
    pub(crate) just_one: AttrSet,
}

/// The `(id, caption)` entry for `id` in a table sorted by id.
pub(crate) fn lookup(values: &'static [(i64, &'static str)], id: i64) -> Option<&'static str> {
    values
        .binary_search_by_key(&id, |(k, _)| *k)
        .ok()
        .and_then(|i| values.get(i))
        .map(|(_, c)| *c)
}

/// A class and an activity of that class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClassActivity {
    /// The class.
    pub class: Class,
    /// The `activity_id` (a value of the class's activity enum).
    pub activity_id: i64,
}

impl Class {
    pub(crate) fn info(self) -> &'static ClassInfo {
        let uid = self.uid();
        // CLASSES holds every Class variant: the generator emits both from one list.
        CLASSES
            .iter()
            .find(|c| c.uid == uid)
            .unwrap_or(&FALLBACK_INFO)
    }

    /// The `class_uid`.
    pub const fn uid(self) -> i64 {
        self as i64
    }

    /// The `category_uid` of the class.
    pub fn category_uid(self) -> i64 {
        self.info().category_uid
    }

    /// The class caption (`class_name`), e.g. `Authentication`.
    pub fn caption(self) -> &'static str {
        self.info().caption
    }

    /// The category caption (`category_name`).
    pub fn category_name(self) -> &'static str {
        self.info().category_name
    }

    /// The schema name, e.g. `authentication`.
    pub fn schema_name(self) -> &'static str {
        self.info().name
    }

    /// The caption of an activity of this class, if the id is defined.
    pub fn activity_caption(self, activity_id: i64) -> Option<&'static str> {
        lookup(self.info().activities, activity_id)
    }
}

static FALLBACK_INFO: ClassInfo = ClassInfo {
    uid: 0,
    name: "base_event",
    caption: "Base Event",
    category_uid: 0,
    category_name: "Uncategorized",
    activities: &[],
    required: AttrSet([0; ATTR_WORDS]),
    allowed: AttrSet([0; ATTR_WORDS]),
    enums: &[],
    profiles: &[],
    at_least_one: AttrSet([0; ATTR_WORDS]),
    just_one: AttrSet([0; ATTR_WORDS]),
};

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn every_class_has_its_table() {
        for c in Class::ALL {
            assert_eq!(c.info().uid, c.uid(), "{c:?}");
            assert_eq!(c.activity_caption(0), Some("Unknown"));
            assert_eq!(c.activity_caption(99), Some("Other"));
        }
        assert_eq!(Class::Authentication.activity_caption(1), Some("Logon"));
        assert_eq!(Class::Authentication.category_uid(), 3);
        assert_eq!(Class::ApiActivity.category_uid(), 6);
        assert_eq!(Class::DnsActivity.caption(), "DNS Activity");
    }

    #[test]
    fn required_attributes_are_the_base_ones() {
        let req: Vec<_> = Class::Authentication.info().required.names().collect();
        for a in [
            "activity_id",
            "category_uid",
            "class_uid",
            "metadata",
            "severity_id",
            "time",
            "type_uid",
            "user",
        ] {
            assert!(req.contains(&a), "{a} in {req:?}");
        }
    }
}
