//! Register images shared between the tick loop and the Modbus connections.
//!
//! Each machine has a slot holding an `Arc<RegisterImage>`. A request clones
//! the `Arc` under a read lock held only for that clone, then serves from the
//! snapshot, so a whole request sees one consistent tick and no lock is ever
//! held across `.await`. The tick loop swaps in a fresh `Arc` per machine.
//! Writes copy-on-write the current image (`Arc::make_mut`), so they last
//! until the next tick replaces it.

use std::sync::{Arc, PoisonError, RwLock};

use crate::plant::{Plant, RegisterImage};

/// One swappable register image per machine.
#[derive(Debug)]
pub struct ImageStore {
    slots: Vec<RwLock<Arc<RegisterImage>>>,
}

impl ImageStore {
    /// A store holding the plant's current images.
    pub fn from_plant(plant: &Plant) -> Self {
        let slots = (0..plant.machine_count())
            .map(|i| RwLock::new(Arc::new(plant.image(i).cloned().unwrap_or_default())))
            .collect();
        Self { slots }
    }

    /// Number of machines served.
    pub fn machine_count(&self) -> usize {
        self.slots.len()
    }

    /// Replaces every image with the plant's current one (discarding writes).
    pub fn publish(&self, plant: &Plant) {
        self.publish_unless(plant, |_| false);
    }

    /// Like [`ImageStore::publish`], but keeps the images of machines `frozen` selects.
    pub fn publish_unless(&self, plant: &Plant, frozen: impl Fn(usize) -> bool) {
        for (index, slot) in self.slots.iter().enumerate() {
            if frozen(index) {
                continue;
            }
            if let Some(image) = plant.image(index) {
                let fresh = Arc::new(image.clone());
                *slot.write().unwrap_or_else(PoisonError::into_inner) = fresh;
            }
        }
    }

    /// The current image of machine `index`.
    pub fn snapshot(&self, index: usize) -> Option<Arc<RegisterImage>> {
        let slot = self.slots.get(index)?;
        Some(Arc::clone(
            &slot.read().unwrap_or_else(PoisonError::into_inner),
        ))
    }

    /// Applies `change` to machine `index`'s image; snapshots already handed
    /// out are unaffected.
    pub fn modify<R>(
        &self,
        index: usize,
        change: impl FnOnce(&mut RegisterImage) -> R,
    ) -> Option<R> {
        let slot = self.slots.get(index)?;
        let mut guard = slot.write().unwrap_or_else(PoisonError::into_inner);
        Some(change(Arc::make_mut(&mut guard)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::plant::RegisterKind;

    #[test]
    fn snapshots_are_stable_and_writes_last_one_tick() {
        let mut plant = Plant::new(1, 2).unwrap();
        let store = ImageStore::from_plant(&plant);
        assert_eq!(store.machine_count(), 2);
        let before = store.snapshot(0).unwrap();
        assert!(store.modify(0, |img| img.write_holding(400, &[7])).unwrap());
        assert_eq!(
            before.registers(RegisterKind::Holding, 400, 1),
            Some(&[0][..])
        );
        let after = store.snapshot(0).unwrap();
        assert_eq!(
            after.registers(RegisterKind::Holding, 400, 1),
            Some(&[7][..])
        );
        plant.step();
        store.publish(&plant);
        let next = store.snapshot(0).unwrap();
        assert_eq!(
            next.registers(RegisterKind::Holding, 400, 1),
            Some(&[0][..])
        );
        assert_eq!(&*next, plant.image(0).unwrap());
        assert!(store.snapshot(2).is_none());
        assert!(store.modify(2, |_| ()).is_none());
    }

    #[test]
    fn frozen_machines_keep_their_image() {
        let mut plant = Plant::new(1, 2).unwrap();
        let store = ImageStore::from_plant(&plant);
        for m in 0..2 {
            assert!(store.modify(m, |img| img.write_holding(400, &[7])).unwrap());
        }
        plant.step();
        store.publish_unless(&plant, |m| m == 0);
        let kept = store.snapshot(0).unwrap();
        assert_eq!(
            kept.registers(RegisterKind::Holding, 400, 1),
            Some(&[7][..])
        );
        let fresh = store.snapshot(1).unwrap();
        assert_eq!(
            fresh.registers(RegisterKind::Holding, 400, 1),
            Some(&[0][..])
        );
    }
}
