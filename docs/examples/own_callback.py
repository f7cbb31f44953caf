"""Write your own callback: a CSV logger and a callback that stops training with its own reason.

python docs/examples/own_callback.py

The sections between the markers are the tutorial's Python blocks. On the page they run in the
order logger, target, train.
"""

from __future__ import annotations

# --8<-- [start:logger]
import csv

import minibp as bp


class CSVLogger(bp.Callback):
    """Write one row per epoch (epoch, training cost, validation accuracy) to an open text file."""

    def __init__(self, file):
        self.file = file

    def on_train_begin(self, net, optimizer, history):
        self.writer = csv.writer(self.file, lineterminator="\n")
        self.writer.writerow(["epoch", "training_cost", "validation_accuracy"])

    def on_epoch_end(self, epoch, history, net, optimizer):
        self.writer.writerow([epoch, f"{history.training_cost[-1]:.4f}", f"{history.evaluation_accuracy[-1]:.3f}"])

    def on_train_end(self, history, net, optimizer):
        self.file.flush()


# --8<-- [end:logger]


# --8<-- [start:target]
class TargetAccuracy(bp.Callback):
    """Stop training once the validation accuracy reaches ``target``."""

    def __init__(self, target):
        self.target = target
        self.stop_reason = None  # set when it stops training, to say why

    def on_epoch_end(self, epoch, history, net, optimizer):
        accuracy = history.evaluation_accuracy[-1]
        if accuracy >= self.target:
            self.stop_reason = f"validation accuracy {accuracy:.1%} reached the target {self.target:.0%}"
            return True  # stop after this epoch
        return None

    def __repr__(self):
        return f"TargetAccuracy({self.target})"


# --8<-- [end:target]


def main():
    # --8<-- [start:train]
    import io

    from minibp.data import load_sample

    data = load_sample()
    net = bp.mlp([784, 30, 10], init="scaled", rng=0)
    optimizer = bp.SGD(net.parameters(), eta=0.5)
    log = io.StringIO()  # or open("log.csv", "w", newline="") for a file
    stop = TargetAccuracy(0.88)
    history = bp.train(
        net,
        data.training,
        optimizer=optimizer,
        epochs=30,
        mini_batch_size=10,
        evaluation_data=data.validation,
        rng=0,
        callbacks=[CSVLogger(log), stop],
        verbose=False,
    )
    print(log.getvalue(), end="")
    print(f"trained {len(history.epoch)} of 30 epochs: {stop.stop_reason}")
    print("history names the callback:", repr(stop) in history.stop_reason)
    # --8<-- [end:train]
    return history, stop


if __name__ == "__main__":
    main()
