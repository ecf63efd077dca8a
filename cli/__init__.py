"""The `textlstm` command line (installed as `textlstm.cli`)."""
