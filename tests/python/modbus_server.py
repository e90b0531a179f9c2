"""pymodbus server peer for the Modbus interop tests (tests/tests/interop_modbus.rs).

Usage: modbus_server.py SPEC.json

SPEC: {
  "transport": "tcp" | "rtu-over-tcp" | "rtu",
  "serial": {"port": "/dev/pts/N", "baudrate": 19200, "parity": "E", "stopbits": 1},  (rtu)
  "units": {"1": {"tags": [...], "holes": [[kind, start, count], ...]}, ...},
  "delay_ms": 0
}
Each tag: {"register": "holding"|"input"|"coil"|"discrete", "address": N, "type": "u16"...
"f64"|"string"|"bool", "order": "ABCD"|"CDAB"|"BADC"|"DCBA" (or 64-bit names), "value": ...,
"length": bytes (string), "byte_order": "AB"|"BA" (string), "bit": 0..15 (bool in a register)}.

Values are turned into registers by pymodbus's own converter (convert_to_registers), with
word order from pymodbus and byte swapping within words done here, so the encoding is not
the agent's. Registers inside a hole answer exception 02 (illegal data address); units not
in the spec get no answer at all (ignore_missing_devices), like a dead unit on a bus.

Prints "modbus_server ready port=N" (TCP) or "modbus_server ready" (RTU) once serving.
"""

import asyncio
import json
import sys

from pymodbus.client.mixin import ModbusClientMixin
from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.datastore.simulator import ModbusSimulatorContext
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer

DT = ModbusClientMixin.DATATYPE
TYPES = {
    "u16": DT.UINT16,
    "i16": DT.INT16,
    "u32": DT.UINT32,
    "i32": DT.INT32,
    "f32": DT.FLOAT32,
    "u64": DT.UINT64,
    "i64": DT.INT64,
    "f64": DT.FLOAT64,
}
# order name -> (pymodbus word order, swap bytes within each word)
ORDERS = {
    "ABCD": ("big", False),
    "ABCDEFGH": ("big", False),
    "CDAB": ("little", False),
    "GHEFCDAB": ("little", False),
    "BADC": ("big", True),
    "BADCFEHG": ("big", True),
    "DCBA": ("little", True),
    "HGFEDCBA": ("little", True),
}
FC_TABLE = {1: "coil", 2: "discrete", 3: "holding", 4: "input"}


def swap(word):
    return ((word & 0xFF) << 8) | (word >> 8)


def registers_for(tag):
    ty = tag["type"]
    if ty == "string":
        raw = tag["value"].encode("utf-8")
        raw = raw + b"\0" * (tag["length"] - len(raw))
        if len(raw) % 2:
            raw += b"\0"
        words = [(raw[i] << 8) | raw[i + 1] for i in range(0, len(raw), 2)]
        if tag.get("byte_order", "AB") == "BA":
            words = [swap(w) for w in words]
        return words
    word_order, byte_swap = ORDERS[tag.get("order", "ABCD")]
    words = ModbusClientMixin.convert_to_registers(tag["value"], TYPES[ty], word_order=word_order)
    if byte_swap:
        words = [swap(w) for w in words]
    return words


class Unit(ModbusSimulatorContext):
    """One unit's tables, served through pymodbus's old-simulator hook."""

    def __init__(self, spec, delay):  # pylint: disable=super-init-not-called
        self.tables = {"coil": {}, "discrete": {}, "holding": {}, "input": {}}
        self.holes = [(k, s, c) for k, s, c in spec.get("holes", [])]
        self.delay = delay
        for tag in spec["tags"]:
            table = self.tables[tag["register"]]
            if tag["type"] == "bool" and tag["register"] in ("coil", "discrete"):
                table[tag["address"]] = bool(tag["value"])
            elif tag["type"] == "bool":
                word = table.get(tag["address"], 0)
                bit = 1 << tag["bit"]
                table[tag["address"]] = (word | bit) if tag["value"] else (word & ~bit)
            else:
                for i, word in enumerate(registers_for(tag)):
                    table[tag["address"] + i] = word

    def refused(self, kind, address, count):
        return any(
            k == kind and address < s + max(c, 1) and s < address + count
            for k, s, c in self.holes
        )

    async def async_OLD_getValues(self, func_code, address, count=1):  # noqa: N802
        kind = FC_TABLE.get(func_code)
        if kind is None:
            return ExcCodes.ILLEGAL_FUNCTION
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.refused(kind, address, count):
            return ExcCodes.ILLEGAL_ADDRESS
        table = self.tables[kind]
        default = False if kind in ("coil", "discrete") else 0
        return [table.get(a, default) for a in range(address, address + count)]


async def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    delay = spec.get("delay_ms", 0) / 1000
    units = {int(u): Unit(s, delay) for u, s in spec["units"].items()}
    context = ModbusServerContext(devices=units, single=False)
    transport = spec["transport"]
    if transport == "rtu":
        serial = spec["serial"]
        server = ModbusSerialServer(
            context,
            framer=FramerType.RTU,
            port=serial["port"],
            baudrate=serial.get("baudrate", 19200),
            parity=serial.get("parity", "E"),
            stopbits=serial.get("stopbits", 1),
            bytesize=8,
            ignore_missing_devices=True,
        )
        await server.serve_forever(background=True)
        print("modbus_server ready", flush=True)
    else:
        framer = FramerType.RTU if transport == "rtu-over-tcp" else FramerType.SOCKET
        server = ModbusTcpServer(
            context,
            framer=framer,
            address=("127.0.0.1", 0),
            ignore_missing_devices=True,
        )
        await server.serve_forever(background=True)
        port = server.transport.sockets[0].getsockname()[1]
        print(f"modbus_server ready port={port}", flush=True)
    await server.serving


if __name__ == "__main__":
    asyncio.run(main())
