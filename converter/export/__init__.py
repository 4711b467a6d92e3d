"""Writers of deployable artifacts: TFLite conversion, firmware sources, mobile bundles."""
