print("lohar")
