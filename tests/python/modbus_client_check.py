"""pymodbus client peer: reads plant-sim and checks every signal against the register map.

Usage: modbus_client_check.py MAP.toml EXPECTED.json [UNIT:TABLE:ADDRESS:CODE ...]

MAP.toml is the simulator's register map file (layout: table, address, type, word order,
scale, offset, host, port, unit id). EXPECTED.json maps machine id -> signal -> engineering
value (from the plant model at the frozen tick). Each signal is read with the pymodbus
client and decoded with pymodbus's own converter, so the simulator's encoding is checked by
code that is not ours. Each extra argument names a read that must answer exception CODE
(an injected fault). Prints one summary line; exits 1 on any mismatch.
"""

import json
import sys
import tomllib

from pymodbus.client import ModbusTcpClient
from pymodbus.client.mixin import ModbusClientMixin

DT = ModbusClientMixin.DATATYPE
TYPES = {"u16": DT.UINT16, "i16": DT.INT16, "u32": DT.UINT32, "i32": DT.INT32, "f32": DT.FLOAT32}
ORDERS = {"ABCD": ("big", False), "CDAB": ("little", False), "BADC": ("big", True), "DCBA": ("little", True)}
WIDTH = {"u16": 1, "i16": 1, "u32": 2, "i32": 2, "f32": 2}


def swap(word):
    return ((word & 0xFF) << 8) | (word >> 8)


def read(client, unit, table, address, count):
    if table == "coil":
        return client.read_coils(address, count=count, device_id=unit)
    if table == "discrete":
        return client.read_discrete_inputs(address, count=count, device_id=unit)
    if table == "holding":
        return client.read_holding_registers(address, count=count, device_id=unit)
    return client.read_input_registers(address, count=count, device_id=unit)


def decode(signal, response):
    ty = signal["type"]
    if ty == "bool":
        return bool(response.bits[0])
    words = list(response.registers)
    word_order, byte_swap = ORDERS[signal["order"]]
    if byte_swap:
        words = [swap(w) for w in words]
    raw = ModbusClientMixin.convert_from_registers(words, TYPES[ty], word_order=word_order)
    if ty != "f32" and signal["scale"] == 1.0 and signal["offset"] == 0.0:
        return raw
    return raw * signal["scale"] + signal["offset"]


def same(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))


def main():
    with open(sys.argv[1], "rb") as f:
        plant = tomllib.load(f)
    with open(sys.argv[2], encoding="utf-8") as f:
        expected = json.load(f)
    clients = {}
    problems = []
    checked = 0
    for machine in plant["machine"]:
        key = (machine["host"], machine["port"])
        if key not in clients:
            clients[key] = ModbusTcpClient(machine["host"], port=machine["port"], timeout=3)
            clients[key].connect()
        client = clients[key]
        for signal in machine["signal"]:
            count = 1 if signal["type"] == "bool" else WIDTH[signal["type"]]
            response = read(client, machine["unit_id"], signal["register"], signal["address"], count)
            if response.isError():
                problems.append(f"{machine['id']}.{signal['name']}: {response}")
                continue
            got = decode(signal, response)
            want = expected[machine["id"]][signal["name"]]
            if not same(got, want):
                problems.append(f"{machine['id']}.{signal['name']}: read {got!r}, expected {want!r}")
            checked += 1
    first = next(iter(clients.values()))
    for spec in sys.argv[3:]:
        unit, table, address, code = spec.split(":")
        response = read(first, int(unit), table, int(address), 1)
        got = getattr(response, "exception_code", None)
        if got != int(code):
            problems.append(f"unit {unit} {table} {address}: expected exception {code}, got {response}")
        checked += 1
    for client in clients.values():
        client.close()
    for p in problems:
        print("MISMATCH", p)
    print(f"modbus_client_check checked={checked} problems={len(problems)}", flush=True)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
