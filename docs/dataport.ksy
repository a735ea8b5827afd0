meta:
  id: dataport
  title: taserlink dataport image, format versions 1 and 2
  file-extension: tdi
  license: Apache-2.0
  ks-version: "0.11"
  endian: le
doc: |
  A dataport image (`.tdi`): one download of a conducted energy device's event log, as
  written by taserlink.  Eight sections follow each other with no gaps:

      header | identity | certificates | base | records | seals | statement | acquisition

  Versions 1 and 2 differ only in the acquisition: version 2 adds the download
  workstation's signature algorithm, certificates and signature (the workstation signs
  the host's record of the download).

  The header gives every other section's length in bytes, so each section below is read
  from a substream of exactly that size.  All integers are little-endian.

  Units used throughout: device times are milliseconds since 2000-01-01T00:00:00 on the
  device clock (no time zone; the clock may drift or reset); host times are UTC
  milliseconds since 1970-01-01T00:00:00; durations are milliseconds; charge is
  microcoulombs (µC); battery level is percent (%); temperature is degrees Celsius (°C);
  voltage is millivolts (mV).

  What this description does not check: record CRC-32s, the hash chain, signatures and the
  acquisition digests.  Those are computed over the bytes (see `doc-ref`) and verified by
  taserlink's integrity layer, not by a structural parse.
doc-ref:
  - docs/format.md
  - taserlink/format/layout.py
  - taserlink/format/events.py
seq:
  - id: header
    type: header
    doc: Section 1 — magic, format version, record size and every other section's length.
  - id: identity
    size: header.identity_length
    type: identity
    doc: Section 2 — who the device says it is.
  - id: certificates
    size: header.certificates_length
    type: certificates
    doc: Section 3 — DER certificates, the device's own first, then intermediates.
  - id: base
    size: header.base_length
    type: base
    doc: Section 4 — where the retained log starts and the chain value before it.
  - id: records
    size: header.records_length
    type: records
    doc: Section 5 — the retained event records, oldest first.
  - id: seals
    size: header.seals_length
    type: seals
    doc: Section 6 — signed checkpoints of the hash chain.
  - id: statement
    size: header.statement_length
    type: statement
    if: header.statement_length != 0
    doc: |
      Section 7 — the device's signed account of this download.  Absent (length 0) when
      the device made no statement.
  - id: acquisition
    size: header.acquisition_length
    type: acquisition
    doc: Section 8 — the host's record of the acquisition.

types:
  header:
    doc: Section 1, 40 bytes.
    seq:
      - id: magic
        contents: [0x89, "TDI", 0x0d, 0x0a, 0x1a, 0x0a]
        doc: |
          File signature: a high byte, `TDI`, CR LF, EOF (0x1a) and LF, which together catch
          text-mode transfers.
      - id: version
        type: u2
        valid:
          min: 1
          max: 2
        doc: |
          Format version: 1 (acquisition protected by keyless digests only) or 2 (the
          acquisition also signed by the download workstation).
      - id: record_size
        type: u2
        valid: 32
        doc: Bytes per event record (32 in versions 1 and 2).
      - id: identity_length
        type: u4
        doc: Length of the identity section, bytes.
      - id: certificates_length
        type: u4
        doc: Length of the certificates section, bytes.
      - id: base_length
        type: u4
        doc: Length of the base section, bytes (108).
      - id: records_length
        type: u4
        doc: Length of the records section, bytes (a multiple of `record_size`).
      - id: seals_length
        type: u4
        doc: Length of the seals section, bytes (a multiple of 108).
      - id: statement_length
        type: u4
        doc: Length of the statement section, bytes (0 when absent, else 178).
      - id: acquisition_length
        type: u4
        doc: Length of the acquisition section, bytes.

  identity:
    doc: Section 2.
    seq:
      - id: serial
        type: str
        size: 10
        encoding: ASCII
        pad-right: 0
        doc: |
          Device serial: `D`, 8 body characters and a Luhn mod 32 check character, over the
          Crockford base 32 alphabet (NUL-padded if shorter).
      - id: model_len
        type: u1
        doc: Length of `model`, bytes.
      - id: model
        type: str
        size: model_len
        encoding: UTF-8
        doc: Device model name.
      - id: hardware_revision_len
        type: u1
        doc: Length of `hardware_revision`, bytes.
      - id: hardware_revision
        type: str
        size: hardware_revision_len
        encoding: UTF-8
        doc: Hardware revision.
      - id: firmware
        type: firmware_version
        doc: Firmware running when the image was downloaded.
      - id: log_capacity
        type: u4
        doc: Records the device keeps before it deletes the oldest quarter of its log.
      - id: signature_algorithm
        type: u1
        enum: signature_algorithm
        doc: Algorithm of every signature in the image (base, seals, statement).

  firmware_version:
    doc: A firmware version `major.minor.patch`.
    seq:
      - id: major
        type: u1
      - id: minor
        type: u1
      - id: patch
        type: u2

  certificates:
    doc: Section 3.
    seq:
      - id: count
        type: u1
        doc: Number of certificates.
      - id: certificates
        type: certificate
        repeat: expr
        repeat-expr: count
        doc: The device certificate first, then any intermediates (never the root).

  certificate:
    seq:
      - id: len_der
        type: u2
        doc: Length of `der`, bytes.
      - id: der
        size: len_der
        doc: One X.509 certificate, DER-encoded.

  base:
    doc: Section 4, 108 bytes, signed by the device.
    seq:
      - id: first_seq
        type: u4
        doc: Sequence number of the first retained record.
      - id: chain_before
        size: 32
        doc: SHA-256 hash-chain value before the first retained record.
      - id: device_time_ms
        type: u8
        doc: |
          Device time when the base was (re)written — the device's start or its last log
          wrap; ms since 2000-01-01 device time.
      - id: signature
        size: 64
        doc: |
          Device signature over the domain tag `taserlink/base/v1\0`, the device serial (10
          ASCII bytes) and this section's bytes before the signature.

  records:
    doc: Section 5, back-to-back 32-byte records.
    seq:
      - id: entries
        type: record
        repeat: eos

  record:
    doc: |
      One event, 32 bytes: sequence, device time, event code, 14-byte payload and the
      CRC-32 of the first 28 bytes.
    seq:
      - id: seq
        type: u4
        doc: Sequence number; never resets, one more than the previous record's.
      - id: time_ms
        type: u8
        doc: Device time of the event, ms since 2000-01-01 device time.
      - id: code
        type: u2
        enum: event_code
        doc: What happened; selects the payload's layout.
      - id: payload
        size: 14
        type:
          switch-on: code
          cases:
            event_code::power_on: payload_power_on
            event_code::power_off: payload_power_off
            event_code::unholster: payload_unholster
            event_code::holster: payload_holster
            event_code::arm: payload_arm
            event_code::safe: payload_safe
            event_code::laser_on: payload_laser_on
            event_code::warning_arc: payload_warning_arc
            event_code::trigger: payload_trigger
            event_code::connection: payload_connection
            event_code::deploy: payload_deploy
            event_code::drive_stun: payload_drive_stun
            event_code::cartridge_insert: payload_cartridge_insert
            event_code::cartridge_remove: payload_cartridge_remove
            event_code::function_test: payload_function_test
            event_code::battery: payload_battery
            event_code::clock_set: payload_clock_set
            event_code::firmware_update: payload_firmware_update
            event_code::usb_connect: payload_usb_connect
            event_code::download: payload_download
            event_code::fault: payload_fault
            event_code::log_wrap: payload_log_wrap
        doc: |
          The event's fields.  Every payload ends in zero `reserved` bytes up to 14; a code
          this version does not define leaves the payload as 14 raw bytes.
      - id: crc
        type: u4
        doc: |
          CRC-32 (ISO-HDLC: reflected polynomial 0xEDB88320, initial and final XOR
          0xFFFFFFFF) of the record's first 28 bytes.

  seals:
    doc: Section 6, back-to-back 108-byte seals.
    seq:
      - id: entries
        type: seal
        repeat: eos

  seal:
    doc: A signed checkpoint of the hash chain, 108 bytes.
    seq:
      - id: seq
        type: u4
        doc: Sequence number of the last record the seal covers.
      - id: chain
        size: 32
        doc: SHA-256 hash-chain value after record `seq`.
      - id: device_time_ms
        type: u8
        doc: Device time when sealed, ms since 2000-01-01 device time.
      - id: signature
        size: 64
        doc: |
          Device signature over the domain tag `taserlink/seal/v1\0`, the device serial and
          the seal's bytes before the signature.

  statement:
    doc: Section 7, 178 bytes when present.
    seq:
      - id: nonce
        size: 32
        doc: The host's random nonce, echoed by the device.
      - id: first_seq
        type: u4
        doc: Sequence number of the first record downloaded.
      - id: last_seq
        type: u4
        doc: Sequence number of the last record downloaded (`first_seq - 1` for an empty log).
      - id: chain
        size: 32
        doc: SHA-256 hash-chain value after `last_seq`.
      - id: device_time_ms
        type: u8
        doc: Device clock when the statement was signed, ms since 2000-01-01 device time.
      - id: seal_interval
        type: u2
        doc: The device seals after every record whose sequence is a multiple of this.
      - id: identity_sha256
        size: 32
        doc: SHA-256 of the identity section's bytes, vouched for by the device.
      - id: signature
        size: 64
        doc: |
          Device signature over the domain tag `taserlink/statement/v1\0`, the device
          serial and the statement's bytes before the signature.

  acquisition:
    doc: |
      Section 8: the host's record of the download.  Host times are UTC ms since
      1970-01-01 on the host clock (signed).  In version 2 the download workstation signs
      it: its signature algorithm and certificates follow `workstation`, and its signature
      stands between the two digests.
    seq:
      - id: nonce
        size: 32
        doc: The nonce the host sent for the download statement.
      - id: host_utc_start_ms
        type: s8
        doc: Host UTC when the download started, ms since 1970-01-01.
      - id: host_utc_end_ms
        type: s8
        doc: Host UTC when the download ended, ms since 1970-01-01.
      - id: statement_utc_ms
        type: s8
        doc: |
          Host UTC when the download statement arrived, ms since 1970-01-01: the anchor
          for correcting device times.
      - id: clock_source_len
        type: u1
      - id: clock_source
        type: str
        size: clock_source_len
        encoding: UTF-8
        doc: Where the host's UTC came from (how its clock was synchronised).
      - id: tool_version_len
        type: u1
      - id: tool_version
        type: str
        size: tool_version_len
        encoding: UTF-8
        doc: The acquiring tool and its version.
      - id: operator_len
        type: u1
      - id: operator
        type: str
        size: operator_len
        encoding: UTF-8
        doc: Who made the download.
      - id: workstation_len
        type: u1
      - id: workstation
        type: str
        size: workstation_len
        encoding: UTF-8
        doc: Which host made the download.
      - id: workstation_signature_algorithm
        type: u1
        enum: signature_algorithm
        if: _root.header.version >= 2
        doc: Version 2 — algorithm of the workstation's signature.
      - id: workstation_certificates
        type: certificates
        if: _root.header.version >= 2
        doc: |
          Version 2 — the workstation's DER certificate (issued by the force's CA; its
          common name is `workstation`, its extended key usage id-kp-documentSigning), then
          any intermediates (never the root).
      - id: device_sha256
        size: 32
        doc: SHA-256 of sections 1–7 (header to statement).
      - id: workstation_signature
        size: 64
        if: _root.header.version >= 2
        doc: |
          Version 2 — the workstation's signature over the domain tag
          `taserlink/acquisition/v2\0`, the device serial (10 ASCII bytes) and this
          section's bytes from `nonce` to the end of `device_sha256`.
      - id: closing_sha256
        size: 32
        doc: SHA-256 of every byte of the image before this field.

  # -- event payloads: each exactly 14 bytes, zero-padded with `reserved` ---------------

  payload_power_on:
    seq:
      - id: battery_pct
        type: u1
        doc: Battery level, %.
      - id: rtc_valid
        type: u1
        doc: 1 if the clock kept time; 0 if it lost power and restarted at 2000-01-01.
      - id: reserved
        contents: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]

  payload_power_off:
    seq:
      - id: battery_pct
        type: u1
        doc: Battery level, %.
      - id: reserved
        contents: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]

  payload_unholster:
    seq:
      - id: reserved
        contents: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]

  payload_holster:
    seq:
      - id: reserved
        contents: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]

  payload_arm:
    seq:
      - id: battery_pct
        type: u1
        doc: Battery level, %.
      - id: bays_loaded
        type: u1
        doc: Bays holding a cartridge, a bit mask (bit 0 bay 1, bit 1 bay 2).
      - id: reserved
        contents: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]

  payload_safe:
    seq:
      - id: armed_ms
        type: u4
        doc: How long the device was armed, ms.
      - id: battery_pct
        type: u1
        doc: Battery level, %.
      - id: bays_loaded
        type: u1
        doc: Bays holding a cartridge, a bit mask (bit 0 bay 1, bit 1 bay 2).
      - id: reserved
        contents: [0, 0, 0, 0, 0, 0, 0, 0]

  payload_laser_on:
    seq:
      - id: reserved
        contents: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]

  payload_warning_arc:
    seq:
      - id: duration_ms
        type: u4
        doc: Length of the arc display, ms.
      - id: battery_pct
        type: u1
        doc: Battery level, %.
      - id: bays_loaded
        type: u1
        doc: Bays holding a cartridge, a bit mask (bit 0 bay 1, bit 1 bay 2).
      - id: reserved
        contents: [0, 0, 0, 0, 0, 0, 0, 0]

  payload_trigger:
    seq:
      - id: duration_ms
        type: u4
        doc: Energy delivered for this long, ms.
      - id: battery_pct
        type: u1
        doc: Battery level, %.
      - id: bays_loaded
        type: u1
        doc: Bays holding a cartridge, a bit mask (bit 0 bay 1, bit 1 bay 2).
      - id: bay
        type: u1
        doc: The bay that fired (1 or 2), or 0xFF when no bay was concerned (both empty).
      - id: reserved
        contents: [0, 0, 0, 0, 0, 0, 0]

  payload_connection:
    seq:
      - id: bay
        type: u1
        doc: The bay whose probes this concerns.
      - id: circuit
        type: u1
        doc: 1 if the probes made a circuit, 0 for a miss.
      - id: pulses
        type: u2
        doc: Pulses delivered through the circuit.
      - id: charge_uc
        type: u4
        doc: Charge delivered, µC.
      - id: reserved
        contents: [0, 0, 0, 0, 0, 0]

  payload_deploy:
    seq:
      - id: bay
        type: u1
        doc: The bay whose cartridge fired.
      - id: serial
        type: str
        size: 10
        encoding: ASCII
        pad-right: 0
        doc: The cartridge serial as read from the smart cartridge (NUL-padded).
      - id: reserved
        contents: [0, 0, 0]

  payload_drive_stun:
    seq:
      - id: duration_ms
        type: u4
        doc: Energy delivered by contact for this long, ms.
      - id: battery_pct
        type: u1
        doc: Battery level, %.
      - id: bays_loaded
        type: u1
        doc: Bays holding a cartridge, a bit mask (bit 0 bay 1, bit 1 bay 2).
      - id: reserved
        contents: [0, 0, 0, 0, 0, 0, 0, 0]

  payload_cartridge_insert:
    seq:
      - id: bay
        type: u1
        doc: The bay the cartridge went into.
      - id: serial
        type: str
        size: 10
        encoding: ASCII
        pad-right: 0
        doc: The cartridge serial as read from the smart cartridge (NUL-padded).
      - id: reserved
        contents: [0, 0, 0]

  payload_cartridge_remove:
    seq:
      - id: bay
        type: u1
        doc: The bay the cartridge left.
      - id: serial
        type: str
        size: 10
        encoding: ASCII
        pad-right: 0
        doc: The cartridge serial as last read (NUL-padded).
      - id: reserved
        contents: [0, 0, 0]

  payload_function_test:
    seq:
      - id: duration_ms
        type: u4
        doc: Length of the spark test, ms.
      - id: battery_pct
        type: u1
        doc: Battery level, %.
      - id: result
        type: u1
        doc: 0 if the test passed, otherwise a fault code.
      - id: reserved
        contents: [0, 0, 0, 0, 0, 0, 0, 0]

  payload_battery:
    seq:
      - id: battery_pct
        type: u1
        doc: Battery level, %.
      - id: temperature_c
        type: s1
        doc: Cell temperature, °C.
      - id: voltage_mv
        type: u2
        doc: Cell voltage, mV.
      - id: reserved
        contents: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]

  payload_clock_set:
    doc: The record's own time is the new clock time.
    seq:
      - id: old_time_ms
        type: u8
        doc: The clock before it was set, ms since 2000-01-01 device time.
      - id: source
        type: u1
        enum: clock_source
        doc: Who set the clock.
      - id: reserved
        contents: [0, 0, 0, 0, 0]

  payload_firmware_update:
    seq:
      - id: old_version
        type: firmware_version
        doc: |
          Firmware version before the update (`old` in taserlink's declaration; `new` is
          a reserved word in several target languages, so both are named `*_version` here).
      - id: new_version
        type: firmware_version
        doc: Firmware version after the update (`new` in taserlink's declaration).
      - id: reserved
        contents: [0, 0, 0, 0, 0, 0]

  payload_usb_connect:
    seq:
      - id: reserved
        contents: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]

  payload_download:
    seq:
      - id: nonce_prefix
        size: 8
        doc: The first 8 bytes of the host nonce the download statement was signed over.
      - id: reserved
        contents: [0, 0, 0, 0, 0, 0]

  payload_fault:
    seq:
      - id: fault_code
        type: u2
        doc: The fault the device detected.
      - id: reserved
        contents: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]

  payload_log_wrap:
    doc: |
      The log was full: records `first_deleted` … `first_deleted + deleted - 1` were
      deleted.
    seq:
      - id: first_deleted
        type: u4
        doc: Sequence number of the first deleted record.
      - id: deleted
        type: u4
        doc: Number of records deleted.
      - id: reserved
        contents: [0, 0, 0, 0, 0, 0]

enums:
  signature_algorithm:
    1:
      id: ed25519
      doc: Ed25519 (RFC 8032), 64-byte signatures.

  clock_source:
    0:
      id: host
      doc: A host over USB (a download station or maintenance script).
    1:
      id: menu
      doc: The device's own settings menu.

  event_code:
    0x01:
      id: power_on
      doc: Device powered on.
    0x02:
      id: power_off
      doc: Device powered off.
    0x10:
      id: unholster
      doc: Holster sensor — the device left the holster.
    0x11:
      id: holster
      doc: Holster sensor — the device went back into the holster.
    0x12:
      id: arm
      doc: Safety off.
    0x13:
      id: safe
      doc: Safety on.
    0x14:
      id: laser_on
      doc: Laser sight shown (red dot).
    0x20:
      id: warning_arc
      doc: Arc display with no cartridge fired.
    0x21:
      id: trigger
      doc: Trigger pull.
    0x22:
      id: connection
      doc: Whether the probes made a circuit.
    0x23:
      id: deploy
      doc: A cartridge fired.
    0x24:
      id: drive_stun
      doc: Energy delivered by contact with no cartridge fired.
    0x30:
      id: cartridge_insert
      doc: A smart cartridge was inserted.
    0x31:
      id: cartridge_remove
      doc: A cartridge was removed.
    0x32:
      id: function_test
      doc: Daily spark test.
    0x40:
      id: battery
      doc: Battery report.
    0x41:
      id: clock_set
      doc: The clock was set.
    0x42:
      id: firmware_update
      doc: Firmware changed.
    0x50:
      id: usb_connect
      doc: A host connected over USB.
    0x51:
      id: download
      doc: A download statement was signed.
    0x60:
      id: fault
      doc: The device detected a fault.
    0x70:
      id: log_wrap
      doc: The log was full and its oldest records were deleted.
