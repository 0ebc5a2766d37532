from dialin.cli import main

main()
