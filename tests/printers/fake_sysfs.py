"""A stand-in for ``/sys/bus/usb/devices`` (no USB hardware here): the files the kernel
shows for each device (``idVendor``, ``idProduct``, ``manufacturer``, ``product``) and each
of its interfaces (``bInterfaceClass``), laid out as sysfs names them."""

from __future__ import annotations

from pathlib import Path

# device name: (idVendor, idProduct, manufacturer, product, interface classes)
DEVICES: dict[str, tuple[str, str, str | None, str | None, tuple[str, ...]]] = {
    "1-1": ("04b8", "0e15", "EPSON", "TM-T82", ("07",)),  # an ESC/POS receipt printer
    "1-2": ("046d", "c31c", "Logitech", "USB Keyboard", ("03", "03")),  # not a printer
    "1-3": ("0416", "5011", None, None, ("07",)),  # a printer without name strings
    "1-4": ("0fe6", "811e", "ICS", "POS-58", ("ff",)),  # vendor class: not found
    "2-1.4": ("03f0", "2b17", "HP", "LaserJet\x00 1020\n", ("07",)),  # odd characters
}


def fake_sysfs(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "usb1").mkdir()  # a root hub: no interface, no ids of interest
    for name, (vendor, product, maker, model, classes) in DEVICES.items():
        device = root / name
        device.mkdir()
        (device / "idVendor").write_text(vendor + "\n")
        (device / "idProduct").write_text(product + "\n")
        if maker is not None:
            (device / "manufacturer").write_text(maker + "\n")
        if model is not None:
            (device / "product").write_text(model + "\n")
        for n, usb_class in enumerate(classes):
            interface = root / f"{name}:1.{n}"
            interface.mkdir()
            (interface / "bInterfaceClass").write_text(usb_class + "\n")
    return root
