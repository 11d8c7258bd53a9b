"""The model catalog around the engines: fit estimates, other apps' stores, downloads, favourites."""
