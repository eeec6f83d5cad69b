from promptpulse.launch import main

main()
