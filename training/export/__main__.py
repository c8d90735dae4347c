from training.export.onnx_export import main

main()
