//! Identity of a simulated machine (id, kind, ISA-95 asset path) and the
//! dispatch from a machine to its kind's model.
//!
//! Naming: machine `i` of `n` is `{kind}-{i+1}`, zero-padded to
//! `max(2, digits(n))`, on line `line-{i/10 + 1}` of `demo/hall-1`.

use super::compressor::Compressor;
use super::encoding::SignalValue;
use super::layout::MachineKind;
use super::motor::Motor;
use super::prng::Noise;
use super::pump::Pump;

/// ISA-95 site of every simulated machine.
pub const SITE: &str = "demo";
/// ISA-95 area of every simulated machine.
pub const AREA: &str = "hall-1";
/// Machines per production line.
pub const MACHINES_PER_LINE: usize = 10;

/// Who a machine is: index, id, kind and asset path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineInfo {
    index: usize,
    id: String,
    kind: MachineKind,
    asset: String,
}

impl MachineInfo {
    /// Identity of machine `index` (0-based) in a plant of `count` machines.
    pub fn new(index: usize, count: usize) -> Self {
        let kind = MachineKind::for_index(index);
        let width = count.max(1).to_string().len().max(2);
        let id = format!("{}-{:0width$}", kind.as_str(), index + 1);
        let line = index / MACHINES_PER_LINE + 1;
        let asset = format!("{SITE}/{AREA}/line-{line}/{id}");
        Self {
            index,
            id,
            kind,
            asset,
        }
    }

    /// 0-based machine index.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Machine id, e.g. `motor-01`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Machine kind.
    pub fn kind(&self) -> MachineKind {
        self.kind
    }

    /// Asset path `site/area/line/asset`, e.g. `demo/hall-1/line-1/motor-01`.
    pub fn asset(&self) -> &str {
        &self.asset
    }
}

/// The physical model behind a machine.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Model {
    Motor(Motor),
    Pump(Pump),
    Compressor(Compressor),
}

impl Model {
    /// The model of `kind` at tick 0.
    pub(crate) fn start(kind: MachineKind, noise: Noise) -> Self {
        match kind {
            MachineKind::Motor => Self::Motor(Motor::start(noise)),
            MachineKind::Pump => Self::Pump(Pump::start(noise)),
            MachineKind::Compressor => Self::Compressor(Compressor::start(noise)),
        }
    }

    /// Advances the model to `tick`.
    pub(crate) fn step(&mut self, noise: Noise, tick: u64) {
        match self {
            Self::Motor(m) => m.step(noise, tick),
            Self::Pump(p) => p.step(noise, tick),
            Self::Compressor(c) => c.step(noise, tick),
        }
    }

    /// The named signal's current physical value.
    pub(crate) fn value(&self, name: &str) -> Option<SignalValue> {
        match self {
            Self::Motor(m) => m.value(name),
            Self::Pump(p) => p.value(name),
            Self::Compressor(c) => c.value(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_assets() {
        let m = MachineInfo::new(0, 10);
        assert_eq!(m.id(), "motor-01");
        assert_eq!(m.asset(), "demo/hall-1/line-1/motor-01");
        assert_eq!(MachineInfo::new(1, 10).id(), "pump-02");
        assert_eq!(MachineInfo::new(2, 10).id(), "compressor-03");
        assert_eq!(MachineInfo::new(9, 10).id(), "motor-10");
        assert_eq!(
            MachineInfo::new(9, 10).asset(),
            "demo/hall-1/line-1/motor-10"
        );
        assert_eq!(
            MachineInfo::new(10, 11).asset(),
            "demo/hall-1/line-2/pump-11"
        );
        assert_eq!(MachineInfo::new(0, 1).id(), "motor-01");
        assert_eq!(MachineInfo::new(0, 100).id(), "motor-001");
        assert_eq!(MachineInfo::new(0, 1000).id(), "motor-0001");
        let last = MachineInfo::new(999, 1000);
        assert_eq!(last.id(), "motor-1000");
        assert_eq!(last.asset(), "demo/hall-1/line-100/motor-1000");
        assert_eq!(last.kind(), MachineKind::Motor);
    }

    #[test]
    fn every_layout_signal_has_a_model_value() {
        for kind in MachineKind::ROTATION {
            let model = Model::start(kind, Noise::new(1, 0));
            for def in kind.signals() {
                assert!(model.value(def.name).is_some(), "{kind:?} {}", def.name);
            }
        }
    }
}
