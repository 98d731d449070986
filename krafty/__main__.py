from krafty.cni import main

main()
