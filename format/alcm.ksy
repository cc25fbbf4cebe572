meta:
  id: alcm
  title: ALCM compressed, checksummed model-checkpoint archive, format 1.x
  file-extension: alcm
  license: MIT
  ks-version: '0.10'
  endian: le
doc: |
  Layout of an .alcm archive as specified by spec/alcm-format.md (format
  1.4; the spec is normative). The file is

    header | gap | { frame header | payload | gap }* | index | footer

  The footer (last 48 bytes) locates the index; the index lists sources,
  entries (tensors and blobs) with references to their frames, and
  metadata. Frames are reached through the instances of chunk_ref and
  section_ref. Checksums (XXH3) are described but not verified here, and
  payloads are not decompressed.

  Version changes (spec "Version changes"): 1.1 added transforms
  split_bf16 and split_f32, codec rans and the zlib-compressed index body
  (index flags bit 0, body_size). 1.2 defines adaptive entries (encoding
  1): their raw_size and content_hash cover the quantized codes (at most
  numel x 2 bytes), they carry section refs (scales and bit widths
  required, zero points rejected) and the 64-byte adaptive block; and the
  metadata key alcm.scheduler (scheduler_state). 1.3 changes the layout
  of an adaptive entry's code bytes (byte planes of zig-zag codes,
  channels in bit-width order; spec/adaptive.md "Codes"), so its raw_size
  is kept + kept_wide, and adds rans block mode 3 (RANS32) inside
  payloads, which this description does not decode; the containers are
  the same. 1.4 adds bundled entries (entry flags bit 2): small tensors
  whose bytes are ranges of one frame's decoded bytes, each entry naming
  the frame in its one chunk ref and its start in bundle_offset. Rules
  the expression language cannot state (numel x 2, required sections,
  a bundled entry's range inside its frame) are checked by
  tests/kaitai/compare.js.
doc-ref: spec/alcm-format.md
seq:
  - id: header
    type: file_header
instances:
  footer:
    pos: _io.size - 48
    type: footer
  index:
    pos: footer.index_offset
    size: footer.index_size
    type: index
  align:
    value: 1 << header.align_log2
    doc: Payloads start at multiples of this many bytes.
types:
  file_header:
    doc-ref: spec/alcm-format.md "File header"
    seq:
      - id: magic
        contents: [0x89, "ALCM", 0x0d, 0x0a, 0x1a]
      - id: major
        type: u2
        valid: 1
      - id: minor
        type: u2
      - id: flags
        type: u4
        valid: 0
      - id: align_log2
        type: u1
        valid:
          min: 3
          max: 16
      - id: reserved
        contents: [0, 0, 0, 0, 0, 0, 0]
      - id: header_hash
        type: u8
        doc: XXH3-64 of header bytes 0..23.

  footer:
    doc-ref: spec/alcm-format.md "Footer"
    seq:
      - id: index_offset
        type: u8
      - id: index_size
        type: u8
      - id: index_hash
        type: u8
        doc: XXH3-64 of the index bytes.
      - id: major
        type: u2
        valid: _root.header.major
      - id: minor
        type: u2
        valid: _root.header.minor
      - id: flags
        type: u4
        valid: 0
      - id: footer_hash
        type: u8
        doc: XXH3-64 of footer bytes 0..31.
      - id: magic
        contents: ["ALCMEND", 0x0a]

  index:
    doc-ref: spec/alcm-format.md "Index"
    seq:
      - id: magic
        contents: "AIDX"
      - id: flags
        type: u4
        valid:
          any-of: [0, 1]
        doc: Bit 0 (1.1) - the body is one zlib stream.
      - id: source_count
        type: u4
      - id: entry_count
        type: u4
      - id: meta_count
        type: u4
      - id: body_size
        type: u4
        doc: Inflated body bytes when flags bit 0 is set, else 0.
      - id: total_raw
        type: u8
        doc: Sum of all entries' raw_size.
      - id: body_plain
        type: index_body
        size-eos: true
        if: flags == 0
      - id: body_zlib
        type: index_body
        size-eos: true
        process: zlib
        if: flags == 1
    instances:
      body:
        value: 'flags == 0 ? body_plain : body_zlib'
      sources:
        value: body.sources
      entries:
        value: body.entries
      metas:
        value: body.metas

  index_body:
    doc-ref: spec/alcm-format.md "Index"
    seq:
      - id: sources
        type: source
        repeat: expr
        repeat-expr: _parent.source_count
      - id: entries
        type: entry
        repeat: expr
        repeat-expr: _parent.entry_count
      - id: metas
        type: meta
        repeat: expr
        repeat-expr: _parent.meta_count
      - id: trailing
        size-eos: true
        valid:
          expr: _.length == 0
        doc: The records end exactly at the end of the body.

  source:
    doc-ref: spec/alcm-format.md "Source record"
    seq:
      - id: format
        type: u1
        enum: source_format
      - id: reserved
        type: u1
        valid: 0
      - id: path_len
        type: u2
        valid:
          max: 4096
      - id: restore_len
        type: u4
      - id: path
        type: str
        size: path_len
        encoding: UTF-8
      - id: restore
        size: restore_len
        doc: |
          safetensors: the file's first 8 + N bytes; npy: the preamble
          through the header newline; other formats: empty.

  entry:
    doc-ref: spec/alcm-format.md "Entry record"
    seq:
      - id: kind
        type: u1
        enum: entry_kind
      - id: dtype
        type: u1
        enum: dtype
      - id: encoding
        type: u1
        enum: encoding
      - id: ndim
        type: u1
        valid:
          max: 32
      - id: name_len
        type: u2
        valid:
          min: 1
          max: 4096
      - id: flags
        type: u2
        valid:
          max: 7
        doc: |
          Bit 0 Fortran order, bit 1 big-endian elements, bit 2 bundled
          (1.4: a lossless tensor of one chunk whose bytes are a range of
          the decoded bytes of a frame it shares with other entries).
      - id: source
        type: u4
        doc: Index of the source record, or 0xFFFFFFFF for none.
      - id: chunk_count
        type: u4
      - id: section_count
        type: u4
      - id: chunk_size
        type: u4
        valid:
          min: 4096
          max: 1073741824
      - id: raw_size
        type: u8
        doc: |
          Bytes of the entry when read: numel x dtype size for a lossless
          tensor; for an adaptive entry the number of code bytes, at most
          numel x 2: in 1.3 the sum over channels of kept_c x (1 if
          bits_c <= 8 else 2); in 1.2 of ceil(kept_c x bits_c / 8).
      - id: content_hash
        size: 16
        doc: |
          XXH3-128 of the entry's raw bytes (for an adaptive entry: of its
          codes), canonical (big-endian) form.
      - id: name
        type: str
        size: name_len
        encoding: UTF-8
      - id: shape
        type: u8
        repeat: expr
        repeat-expr: ndim
      - id: chunks
        type: chunk_ref
        repeat: expr
        repeat-expr: chunk_count
      - id: bundle_offset
        type: u8
        if: bundled
        doc: |
          Format 1.4, bundled entries only: where the entry's raw_size
          bytes start in the decoded bytes of the frame its chunk names.
      - id: sections
        type: section_ref
        repeat: expr
        repeat-expr: section_count
      - id: adaptive
        type: adaptive_block
        if: encoding == encoding::adaptive
        doc: Format 1.2 (spec "Adaptive entries").
    instances:
      is_adaptive_dtype:
        value: |
          dtype == dtype::f16 or dtype == dtype::bf16 or
          dtype == dtype::f32 or dtype == dtype::f64
      fortran_order:
        value: (flags & 1) != 0
      big_endian:
        value: (flags & 2) != 0
      bundled:
        value: (flags & 4) != 0
      has_source:
        value: source != 0xffffffff

  chunk_ref:
    doc-ref: spec/alcm-format.md "Entry record"
    seq:
      - id: frame_offset
        type: u8
      - id: stored_size
        type: u8
    instances:
      frame:
        io: _root._io
        pos: frame_offset
        type: frame_header
      payload:
        io: _root._io
        pos: frame_offset + 64
        size: stored_size

  section_ref:
    doc-ref: spec/alcm-format.md "Entry record"
    seq:
      - id: type
        type: u2
        enum: section_type
      - id: reserved
        contents: [0, 0, 0, 0, 0, 0]
      - id: frame_offset
        type: u8
      - id: stored_size
        type: u8
    instances:
      frame:
        io: _root._io
        pos: frame_offset
        type: frame_header
      payload:
        io: _root._io
        pos: frame_offset + 64
        size: stored_size
      stored_content:
        io: _root._io
        pos: frame_offset + 64
        size: stored_size
        if: frame.codec == codec::store and frame.transform == transform::identity
        type:
          switch-on: type
          cases:
            'section_type::entropy_map': section_f32
            'section_type::scales': section_f32
            'section_type::bit_widths': section_bit_widths
            'section_type::statistics': section_statistics
        doc: |
          The section's values when its frame is stored (codec store); the
          pruning mask is plain bytes (bit i = element i, LSB first, 1 =
          kept). Rans-coded sections are not decoded here.

  section_f32:
    doc: Entropy map (type 1) or scales (type 2), one f32 per channel.
    seq:
      - id: values
        type: f4
        repeat: eos

  section_bit_widths:
    doc: Bits per code of each channel (type 4).
    seq:
      - id: bits
        type: u1
        repeat: eos
        valid:
          min: 1
          max: 16

  section_statistics:
    doc: Per channel mean, variance, std, skewness, kurtosis, sparsity (type 6).
    seq:
      - id: channels
        type: channel_stats
        repeat: eos

  channel_stats:
    seq:
      - id: mean
        type: f4
      - id: variance
        type: f4
      - id: std
        type: f4
      - id: skewness
        type: f4
      - id: kurtosis
        type: f4
      - id: sparsity
        type: f4

  adaptive_block:
    doc-ref: spec/alcm-format.md "Entry record", "Adaptive entries"
    doc: |
      Format 1.2; code_layout 1.3. Only on an F16, BF16, F32 or F64
      tensor with flags 0 (checked on channel_axis).
    seq:
      - id: channel_axis
        type: u1
        valid:
          expr: _ < _parent.ndim and _parent.is_adaptive_dtype and _parent.flags == 0
      - id: code_layout
        type: u1
        valid:
          max: 1
        doc: |
          Layout of the entry's code bytes (spec/adaptive.md "Codes";
          enum code_layout): 0 packed b-bit codes (1.2), 1 byte planes of
          zig-zag codes in bit-width order (1.3; a 1.2 reader sees a
          non-zero reserved byte).
      - id: reserved
        contents: [0, 0]
      - id: channel_count
        type: u4
        valid:
          expr: _ == _parent.shape[channel_axis]
      - id: max_abs_err
        type: f8
      - id: rmse
        type: f8
      - id: snr_db
        type: f8
      - id: pruned
        type: f8
      - id: cpu_seconds
        type: f8
      - id: caq
        type: f8
      - id: reserved2
        contents: [0, 0, 0, 0, 0, 0, 0, 0]

  meta:
    doc-ref: spec/alcm-format.md "Metadata record"
    seq:
      - id: key_len
        type: u2
        valid:
          min: 1
          max: 255
      - id: type
        type: u1
        enum: meta_type
      - id: reserved
        type: u1
        valid: 0
      - id: value_len
        type: u4
      - id: key
        type: str
        size: key_len
        encoding: UTF-8
      - id: value
        size: value_len
        type:
          switch-on: 'key == "alcm.scheduler" and type == meta_type::bytes ? 5 : type.to_i'
          cases:
            1: meta_string
            3: meta_i64
            4: meta_f64
            5: scheduler_state
        doc: |
          Raw bytes for meta_type::bytes, except the well-known key
          alcm.scheduler (1.2).

  scheduler_state:
    doc-ref: spec/adaptive.md "Scheduler"
    doc: Pruning scheduler state (metadata alcm.scheduler, 1.2), 192 bytes.
    seq:
      - id: magic
        contents: "ALCMSCHD"
      - id: version
        type: u4
        valid: 1
      - id: window
        type: u4
        valid:
          min: 2
          max: 16
      - id: count
        type: u4
        valid:
          max: window
      - id: reserved
        type: u4
        valid: 0
      - id: steps
        type: u8
      - id: threshold
        type: f8
      - id: decay
        type: f8
      - id: t_min
        type: f8
      - id: t_max
        type: f8
      - id: caq
        type: f8
        repeat: expr
        repeat-expr: 16
        doc: Oldest first; slots from count on are zero.

  meta_string:
    seq:
      - id: value
        type: str
        size-eos: true
        encoding: UTF-8
  meta_i64:
    seq:
      - id: value
        type: s8
  meta_f64:
    seq:
      - id: value
        type: f8

  frame_header:
    doc-ref: spec/alcm-format.md "Frames"
    seq:
      - id: magic
        contents: "ALCF"
      - id: kind
        type: u1
        enum: frame_kind
      - id: transform
        type: u1
        enum: transform
      - id: codec
        type: u1
        enum: codec
      - id: elem_size
        type: u1
      - id: raw_size
        type: u8
      - id: stored_size
        type: u8
      - id: raw_hash
        type: u8
        doc: XXH3-64 of the decoded bytes (after the inverse transform).
      - id: stored_hash
        type: u8
        doc: XXH3-64 of the payload.
      - id: section_type
        type: u2
        enum: section_type
      - id: reserved
        contents: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
      - id: header_hash
        type: u8
        doc: XXH3-64 of frame header bytes 0..55.

enums:
  dtype:
    0: none
    1: bool
    2: u8
    3: i8
    4: u16
    5: i16
    6: u32
    7: i32
    8: u64
    9: i64
    10: f16
    11: bf16
    12: f32
    13: f64
    14: f8_e4m3
    15: f8_e5m2
  code_layout:
    0: packed
    1: byte_planes
  codec:
    0: store
    1: zstd
    2: zlib
    3: rans
  transform:
    0: identity
    1: byte_group
    2: split_bf16
    3: split_f32
  frame_kind:
    1: chunk
    2: section
  entry_kind:
    1: tensor
    2: blob
  encoding:
    0: lossless
    1: adaptive
  source_format:
    0: none
    1: safetensors
    2: npy
    3: npz
    4: pytorch
    5: file
  section_type:
    0: none
    1: entropy_map
    2: scales
    3: zero_points # not defined for 1.2 quantization; rejected on adaptive entries
    4: bit_widths
    5: pruning_mask
    6: statistics
  meta_type:
    1: string
    2: bytes
    3: i64
    4: f64
