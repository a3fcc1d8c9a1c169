"""Printer adapters: CUPS for A4 documents, ESC/POS for receipts, and a virtual printer.

Each adapter is a thin implementation of the printer port defined in ``kiosk``; it imports
its driver (pycups, python-escpos) lazily and translates the driver's errors at its
boundary. Receipt layout and IPP-status translation are pure functions, table-tested.
Imports point one way: ``printers`` uses ``kiosk`` only.
"""
