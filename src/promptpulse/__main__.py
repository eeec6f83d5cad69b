from promptpulse.cli import main

main()
