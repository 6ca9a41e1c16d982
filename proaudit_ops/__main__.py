from proaudit_ops.cli.app import main

main()
