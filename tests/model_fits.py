"""A preset trained for 20 epochs on small images, for the tests that compare what an option
changes in a trained model."""

from harness import small


def trained(name, x, **overrides):
    model = small(name, learning_rate=3e-3, **overrides)
    model.fit(x, epochs=20, batch_size=64, verbose=0)
    return model
