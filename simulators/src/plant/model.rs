//! The plant: N machines stepped together, tick by tick, each re-encoded into
//! its register image after every step.
//!
//! Everything is a pure function of (seed, machine index, tick): two plants
//! built with the same seed and stepped the same number of times hold
//! identical images. No I/O and no clock; the caller decides when to step.

use super::encoding::{EngValue, RawValue, encode};
use super::image::RegisterImage;
use super::machine::{MachineInfo, Model};
use super::prng::Noise;

/// Largest supported plant.
pub const MAX_MACHINES: usize = 1000;

/// Why a plant could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlantError {
    /// The machine count is outside `1..=MAX_MACHINES`.
    #[error("machine count {count} is outside 1..={MAX_MACHINES}")]
    MachineCount {
        /// The rejected count.
        count: usize,
    },
}

/// One simulated machine: identity, model state and encoded outputs.
#[derive(Debug, Clone)]
struct Machine {
    info: MachineInfo,
    noise: Noise,
    model: Model,
    /// Encoded value of each layout signal, in layout order.
    raw: Vec<RawValue>,
    image: RegisterImage,
}

impl Machine {
    fn encode(&mut self) {
        let mut image = RegisterImage::new();
        self.raw.clear();
        for def in self.info.kind().signals() {
            // Every layout signal has a model value (tested in machine.rs);
            // a missing one would read as 0.
            let raw = self
                .model
                .value(def.name)
                .map_or(RawValue::Bool(false), |v| encode(def, v));
            image.store(def, raw);
            self.raw.push(raw);
        }
        self.image = image;
    }
}

/// A deterministic plant of 1 to 1000 machines.
#[derive(Debug, Clone)]
pub struct Plant {
    seed: u64,
    tick: u64,
    machines: Vec<Machine>,
}

impl Plant {
    /// The plant for `seed` with `count` machines, at tick 0.
    pub fn new(seed: u64, count: usize) -> Result<Self, PlantError> {
        if !(1..=MAX_MACHINES).contains(&count) {
            return Err(PlantError::MachineCount { count });
        }
        let machines = (0..count)
            .map(|index| {
                let info = MachineInfo::new(index, count);
                let noise = Noise::new(seed, index);
                let model = Model::start(info.kind(), noise);
                let mut machine = Machine {
                    info,
                    noise,
                    model,
                    raw: Vec::new(),
                    image: RegisterImage::new(),
                };
                machine.encode();
                machine
            })
            .collect();
        Ok(Self {
            seed,
            tick: 0,
            machines,
        })
    }

    /// Advances every machine by one tick and re-encodes the images.
    pub fn step(&mut self) {
        self.tick += 1;
        for machine in &mut self.machines {
            machine.model.step(machine.noise, self.tick);
            machine.encode();
        }
    }

    /// Number of `step` calls since tick 0.
    pub fn tick(&self) -> u64 {
        self.tick
    }

    /// The seed the plant was built with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Number of machines.
    pub fn machine_count(&self) -> usize {
        self.machines.len()
    }

    /// Identity of machine `index`.
    pub fn machine(&self, index: usize) -> Option<&MachineInfo> {
        self.machines.get(index).map(|m| &m.info)
    }

    /// Identities of all machines, by index.
    pub fn machines(&self) -> impl Iterator<Item = &MachineInfo> {
        self.machines.iter().map(|m| &m.info)
    }

    /// Register image of machine `index` at the current tick.
    pub fn image(&self, index: usize) -> Option<&RegisterImage> {
        self.machines.get(index).map(|m| &m.image)
    }

    /// Raw (encoded) value of a signal at the current tick.
    pub fn raw_value(&self, index: usize, signal: &str) -> Option<RawValue> {
        let machine = self.machines.get(index)?;
        let (position, _) = machine.info.kind().signal(signal)?;
        machine.raw.get(position).copied()
    }

    /// The value a correct client decodes from the registers of `signal` on
    /// machine `index` at the current tick; `None` for an unknown machine or
    /// signal.
    pub fn engineering_value(&self, index: usize, signal: &str) -> Option<EngValue> {
        let machine = self.machines.get(index)?;
        let (position, def) = machine.info.kind().signal(signal)?;
        Some(machine.raw.get(position)?.to_eng(def))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn images(plant: &Plant) -> Vec<RegisterImage> {
        (0..plant.machine_count())
            .map(|i| plant.image(i).unwrap().clone())
            .collect()
    }

    #[test]
    fn validates_machine_count() {
        assert_eq!(
            Plant::new(1, 0).unwrap_err(),
            PlantError::MachineCount { count: 0 }
        );
        assert!(Plant::new(1, 1001).is_err());
        assert_eq!(Plant::new(1, 1000).unwrap().machine_count(), 1000);
    }

    #[test]
    fn same_seed_same_images() {
        let mut a = Plant::new(42, 12).unwrap();
        let mut b = Plant::new(42, 12).unwrap();
        assert_eq!(images(&a), images(&b));
        for _ in 0..50 {
            a.step();
            b.step();
        }
        assert_eq!(a.tick(), 50);
        assert_eq!(images(&a), images(&b));
    }

    #[test]
    fn different_seed_different_images() {
        let mut a = Plant::new(42, 6).unwrap();
        let mut b = Plant::new(43, 6).unwrap();
        for i in 0..6 {
            assert_ne!(a.image(i), b.image(i), "machine {i} at tick 0");
        }
        a.step();
        b.step();
        assert_ne!(images(&a), images(&b));
    }

    #[test]
    fn machine_prefix_is_independent_of_plant_size() {
        // Values depend on (seed, index, tick) only, not on the plant size.
        let mut small = Plant::new(9, 3).unwrap();
        let mut large = Plant::new(9, 30).unwrap();
        for _ in 0..20 {
            small.step();
            large.step();
        }
        for i in 0..3 {
            assert_eq!(small.image(i), large.image(i));
        }
    }

    #[test]
    fn engineering_value_lookups() {
        let plant = Plant::new(42, 3).unwrap();
        assert_eq!(
            plant.engineering_value(0, "running"),
            Some(EngValue::Bool(true))
        );
        assert!(matches!(
            plant.engineering_value(0, "speed"),
            Some(EngValue::Int(_))
        ));
        assert!(matches!(
            plant.engineering_value(0, "current"),
            Some(EngValue::Float(_))
        ));
        assert!(matches!(
            plant.engineering_value(2, "oil_temp"),
            Some(EngValue::Float(_))
        ));
        assert_eq!(plant.engineering_value(0, "flow"), None);
        assert_eq!(plant.engineering_value(3, "running"), None);
    }
}
