"""How-to: train in minibp, continue in PyTorch with the same weights, and come back.

python docs/examples/howto_pytorch.py   (needs PyTorch: pip install "minibp[torch]")

The sections between the markers are the guide's Python blocks, in page order.
"""

from __future__ import annotations


def main():
    # --8<-- [start:minibp]
    import numpy as np

    import minibp as bp
    from minibp.data import load_sample

    data = load_sample()
    X, y = data.training  # (784, 4000): one example per column
    X_val, y_val = data.validation
    net = bp.Sequential(bp.Dense(784, 100, init="he", rng=0), bp.ReLU(), bp.Dense(100, 10, init="scaled", rng=1))
    optimizer = bp.SGD(net.parameters(), eta=0.1)
    cost = bp.SoftmaxLogLikelihoodCost()
    bp.train(net, (X, y), optimizer=optimizer, cost=cost, epochs=2, mini_batch_size=10, rng=0, verbose=False)
    print(f"minibp, 2 epochs:     validation accuracy {bp.accuracy(net, X_val, y_val):.3f}")
    # --8<-- [end:minibp]

    # --8<-- [start:to-torch]
    import torch

    from minibp.torch_layout import to_torch

    model = to_torch(net)  # a new torch.nn.Sequential with copies of the weights, float64 as they are
    print(model)
    with torch.no_grad():
        z = model(torch.from_numpy(np.ascontiguousarray(X_val.T)))  # PyTorch takes one example per row
    print(f"largest difference from minibp's output: {np.abs(z.numpy().T - net(X_val)).max():.0e}")
    print("same predictions:", np.array_equal(z.argmax(dim=1).numpy(), bp.predict(net, X_val)))
    # --8<-- [end:to-torch]

    # --8<-- [start:train-torch]
    torch.set_num_threads(1)  # mini-batches of 10: one thread is quicker than several, as in minibp.train
    examples = torch.utils.data.TensorDataset(torch.from_numpy(np.ascontiguousarray(X.T)), torch.from_numpy(y))
    loader = torch.utils.data.DataLoader(
        examples, batch_size=10, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    torch_optimizer = torch.optim.SGD(model.parameters(), lr=0.1)  # the step minibp's SGD(eta=0.1) takes
    model.train()
    for inputs, labels in loader:  # one more epoch, in PyTorch
        torch_optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(inputs), labels)  # SoftmaxLogLikelihoodCost
        loss.backward()
        torch_optimizer.step()
    model.eval()
    with torch.no_grad():
        predictions = model(torch.from_numpy(np.ascontiguousarray(X_val.T))).argmax(dim=1).numpy()
    print(f"PyTorch, 1 more epoch: validation accuracy {np.mean(predictions == y_val):.3f}")
    # --8<-- [end:train-torch]

    # --8<-- [start:back]
    from minibp.torch_layout import from_torch

    net = from_torch(model)  # minibp modules holding copies of the trained weights
    print(net)
    print(f"back in minibp:        validation accuracy {bp.accuracy(net, X_val, y_val):.3f}")
    print("same predictions as PyTorch:", np.array_equal(bp.predict(net, X_val), predictions))
    # --8<-- [end:back]
    return net, model


if __name__ == "__main__":
    main()
