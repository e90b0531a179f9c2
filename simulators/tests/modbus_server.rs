//! The Modbus server against a real tokio-modbus client on 127.0.0.1 port 0:
//! every signal read over the wire, decoded here independently, equals
//! `Plant::engineering_value`; unit ids map to listeners; exceptions are the
//! documented ones. Every await has a timeout; readiness is "start returned".

#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use simulators::{DataType, EngValue, Plant, PlantSim, RegisterKind, SimConfig, WordOrder};
use tokio_modbus::client::{Context, Reader as _, Writer as _, tcp};
use tokio_modbus::{ExceptionCode, Slave};
use tokio_util::sync::{CancellationToken, DropGuard};

const SEED: u64 = 4242;
const MACHINES: usize = 300;
const STEP: Duration = Duration::from_secs(5);

async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(STEP, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// A frozen simulator (tick 0) serving `MACHINES` machines; stops on drop.
struct Running {
    addrs: Vec<SocketAddr>,
    _stop: DropGuard,
}

async fn start() -> Running {
    start_with(None).await
}

async fn start_with(served_log: Option<std::path::PathBuf>) -> Running {
    let config = SimConfig {
        machines: MACHINES,
        seed: SEED,
        listen: "127.0.0.1:0".parse().unwrap(),
        tick: Duration::ZERO,
        map_out: None,
        control: None,
        faults: Vec::new(),
        opcua: None,
        served_log,
    };
    let sim = within("start", PlantSim::start(config)).await.unwrap();
    let addrs = sim.local_addrs().to_vec();
    let cancel = CancellationToken::new();
    tokio::spawn(sim.run(cancel.clone()));
    Running {
        addrs,
        _stop: cancel.drop_guard(),
    }
}

async fn connect(addr: SocketAddr, unit: u8) -> Context {
    within("connect", tcp::connect_slave(addr, Slave(unit)))
        .await
        .unwrap()
}

/// Independent decoder: big-endian bytes A B C D from two wire registers.
fn abcd(order: WordOrder, r: &[u16]) -> [u8; 4] {
    let [a0, b0] = r[0].to_be_bytes();
    let [a1, b1] = r[1].to_be_bytes();
    match order {
        WordOrder::Abcd => [a0, b0, a1, b1],
        WordOrder::Cdab => [a1, b1, a0, b0],
        WordOrder::Badc => [b0, a0, b1, a1],
        WordOrder::Dcba => [b1, a1, b0, a0],
    }
}

async fn read_signal(ctx: &mut Context, signal: &simulators::plant::SignalDef) -> EngValue {
    let a = signal.address;
    let n = signal.data_type.width();
    let regs = match signal.register {
        RegisterKind::Coil => {
            let bits = within("read coil", ctx.read_coils(a, 1))
                .await
                .unwrap()
                .unwrap();
            return EngValue::Bool(bits[0]);
        }
        RegisterKind::Discrete => {
            let bits = within("read discrete", ctx.read_discrete_inputs(a, 1))
                .await
                .unwrap()
                .unwrap();
            return EngValue::Bool(bits[0]);
        }
        RegisterKind::Input => within("read input", ctx.read_input_registers(a, n)).await,
        RegisterKind::Holding => within("read holding", ctx.read_holding_registers(a, n)).await,
    };
    let regs = regs.unwrap().unwrap();
    let int = match signal.data_type {
        DataType::U16 => i64::from(regs[0]),
        DataType::I16 => i64::from(i16::from_be_bytes(regs[0].to_be_bytes())),
        DataType::U32 => i64::from(u32::from_be_bytes(abcd(signal.order, &regs))),
        DataType::I32 => i64::from(i32::from_be_bytes(abcd(signal.order, &regs))),
        DataType::F32 => {
            let f = f32::from_be_bytes(abcd(signal.order, &regs));
            return EngValue::Float(f64::from(f));
        }
        DataType::Bool => unreachable!("bool signals live in bit tables"),
    };
    if signal.scale == 1.0 && signal.offset == 0.0 {
        EngValue::Int(int)
    } else {
        EngValue::Float(int as f64 * signal.scale + signal.offset)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_signal_matches_engineering_value() {
    let sim = start().await;
    assert_eq!(sim.addrs.len(), 2, "300 machines need two listeners");
    let plant = Plant::new(SEED, MACHINES).unwrap();
    // First and last units of each listener, and every kind.
    for index in [0, 1, 2, 245, 246, 247, 248, 249, 299] {
        let listener = index / 247;
        let unit = u8::try_from(index % 247 + 1).unwrap();
        let mut ctx = connect(sim.addrs[listener], unit).await;
        let kind = plant.machine(index).unwrap().kind();
        for signal in kind.signals() {
            let got = read_signal(&mut ctx, signal).await;
            let want = plant.engineering_value(index, signal.name).unwrap();
            assert_eq!(got, want, "machine {index} {}", signal.name);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exceptions_for_bad_addresses_and_units() {
    let sim = start().await;
    let mut ctx = connect(sim.addrs[0], 1).await;
    let out_of_bank = within("read", ctx.read_input_registers(510, 4))
        .await
        .unwrap();
    assert_eq!(out_of_bank, Err(ExceptionCode::IllegalDataAddress));
    let too_many = within("read", ctx.read_holding_registers(0, 126))
        .await
        .unwrap();
    assert_eq!(too_many, Err(ExceptionCode::IllegalDataValue));
    // The connection survives exceptions.
    let ok = within("read", ctx.read_input_registers(0, 125))
        .await
        .unwrap();
    assert_eq!(ok.unwrap().len(), 125);

    // Listener 1 serves machines 247..300 as units 1..=53; unit 54 is unknown.
    let mut ctx = connect(sim.addrs[1], 54).await;
    let unknown = within("read", ctx.read_coils(0, 1)).await.unwrap();
    assert_eq!(unknown, Err(ExceptionCode::GatewayTargetDevice));
    let mut ctx = connect(sim.addrs[1], 53).await;
    assert!(within("read", ctx.read_coils(0, 1)).await.unwrap().is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_persist_while_frozen() {
    let sim = start().await;
    let mut ctx = connect(sim.addrs[0], 2).await;
    within("write", ctx.write_multiple_registers(400, &[1, 2, 3]))
        .await
        .unwrap()
        .unwrap();
    within("write", ctx.write_single_coil(7, true))
        .await
        .unwrap()
        .unwrap();
    let regs = within("read", ctx.read_holding_registers(399, 5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(regs, [0, 1, 2, 3, 0]);
    let coils = within("read", ctx.read_coils(7, 1)).await.unwrap().unwrap();
    assert_eq!(coils, [true]);
    let bad = within("write", ctx.write_single_register(512, 1))
        .await
        .unwrap();
    assert_eq!(bad, Err(ExceptionCode::IllegalDataAddress));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_clients() {
    let sim = start().await;
    let plant = Plant::new(SEED, MACHINES).unwrap();
    let mut tasks = Vec::new();
    for client in 0..40usize {
        let index = client * 7 % MACHINES;
        let addr = sim.addrs[index / 247];
        let unit = u8::try_from(index % 247 + 1).unwrap();
        let want = plant
            .image(index)
            .unwrap()
            .registers(RegisterKind::Input, 0, 32)
            .unwrap()
            .to_vec();
        tasks.push(tokio::spawn(async move {
            let mut ctx = connect(addr, unit).await;
            for _ in 0..20 {
                let got = within("read", ctx.read_input_registers(0, 32))
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(got, want, "machine {index}");
            }
        }));
    }
    for task in tasks {
        within("client task", task).await.unwrap();
    }
}

/// The served-reads ledger lists each answered read (machine id, table, range) and nothing
/// that was refused or written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_log_records_exactly_the_answered_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("served.log");
    let sim = start_with(Some(path.clone())).await;
    let before = simulators::served::now_ns();
    let mut ctx = connect(sim.addrs[0], 1).await;
    within("read", ctx.read_input_registers(0, 4))
        .await
        .unwrap()
        .unwrap();
    within("read", ctx.read_coils(2, 3)).await.unwrap().unwrap();
    // Refused (out of the bank) and a write: not served reads.
    let refused = within("read", ctx.read_holding_registers(511, 2))
        .await
        .unwrap();
    assert_eq!(refused, Err(ExceptionCode::IllegalDataAddress));
    within("write", ctx.write_single_register(10, 7))
        .await
        .unwrap()
        .unwrap();
    let mut second = connect(sim.addrs[1], 2).await; // machine 248
    within("read", second.read_holding_registers(10, 1))
        .await
        .unwrap()
        .unwrap();
    let reads = simulators::served::read_ledger(&path).unwrap();
    let plant = Plant::new(SEED, MACHINES).unwrap();
    let id = |i: usize| plant.machines().nth(i).unwrap().id().to_owned();
    let got: Vec<_> = reads
        .iter()
        .map(|r| (r.machine.clone(), r.table, r.address, r.count))
        .collect();
    assert_eq!(
        got,
        [
            (id(0), RegisterKind::Input, 0, 4),
            (id(0), RegisterKind::Coil, 2, 3),
            (id(248), RegisterKind::Holding, 10, 1),
        ]
    );
    assert!(reads.iter().all(|r| r.ts_ns >= before));
}
