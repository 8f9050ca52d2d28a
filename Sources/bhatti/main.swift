print("bhatti")
