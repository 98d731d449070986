from krafty.entry import main

main()
