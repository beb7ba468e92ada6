print("clipcl")
