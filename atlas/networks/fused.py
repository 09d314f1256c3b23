"""Whole trials of K networks at once, forward and backward through time written out by hand.

Autograd through `cells.py` records a dozen small operations per time step, replays them
backwards one by one, and makes each step's weight gradient a separate small product. Here a
trial's sweep is one `torch.autograd.Function`:
  forward   the input projection of all steps up front (one product per gate, the bias
            in it as the weight of a ones column), then per step one batched product per gate
            (h W_g^T) and the gates' elementwise work;
  backward  the explicit BPTT sweep, per step one batched product per gate (dG_g W_g) plus
            the elementwise work, then the weight gradients of all steps at once: per gate ONE
            product over K x (T*B) rows for W_hh and one for [W_ih, b] (the ones column's).
Layout: every per-gate buffer is (K, T, B, H), network-major then time then trial. A step's
slice [:, t] is K blocks of B*H contiguous numbers (elementwise ops run at full speed; column
slices of a (K, B, G*H) tensor would run 3x slower, measured), and network k's rows over all
steps are contiguous, so the after-sweep products need no copy.
PyTorch's conventions as in cells.py: GRU (r, z, n) with b_hn inside r * (W_hn h + b_hn),
LSTM (i, f, g, o) with state [h, c]. The sweep is dtype- and device-generic.
Backward runs once per forward: it overwrites the kept gates with their gradients (no new
trial-sized buffers), so a second backward through the same graph (retain_graph=True) is
refused by autograd's in-place check instead of returning wrong gradients.
For training, `sweep_outputs` runs the readout inside the same function, so the states'
gradient never becomes a trial-sized tensor.
A float32 sweep on the CPU runs instead in C (atlas.networks.kernels: vanilla, gru, lstm), one
network at a time with its trial in the caches, where a C compiler could build it.
"""

from __future__ import annotations

import torch

from atlas.networks.cells import GATES, float32_tanh
from atlas.networks.kernels import gru, lstm, vanilla

_KERNELS = {"vanilla": vanilla, "gru": gru, "lstm": lstm}

_tanh_grad = torch.ops.aten.tanh_backward.grad_input
_sigmoid_grad = torch.ops.aten.sigmoid_backward.grad_input


def _blocks(weight: torch.Tensor, gates: int) -> list[torch.Tensor]:
    """(K, G*H, X) -> G contiguous tensors (K, H, X), each gate's rows: MKL's batched
    product copies an operand whose batch stride is not its matrix size, at every call."""
    return [w.contiguous() for w in weight.chunk(gates, dim=1)]


def _in_kernel(arch: str, states: torch.Tensor) -> bool:
    """Whether networks of `arch` with states like `states` sweep in C (float32 on the CPU,
    where the kernel could be built) rather than in the PyTorch code below."""
    return _KERNELS[arch].applies(states)


def _input_weight(arch, weight_ih, bias_ih, bias_hh):
    """[W_ih, b] (K, G*H, I+1): the input side's weight with the biases that join it as the
    weight of the rows' ones column (all but GRU's b_hn, which stays inside r * (...))."""
    bias = bias_ih + bias_hh if arch != "gru" else bias_ih.clone()
    if arch == "gru":
        units = bias.shape[1] // 3
        bias[:, : 2 * units] += bias_hh[:, : 2 * units]
    return torch.cat([weight_ih, bias.unsqueeze(2)], dim=2)


def _input_projection(rows, augmented, gates):
    """Per gate [x, 1] [W_g, b_g]^T for rows (K, T*B, I+1) ending in a ones column: G tensors
    (K, T*B, H). The bias rides in the product: a broadcast bias in `baddbmm` cost 3x the
    product itself (vanilla 20, K = 64, delayed: 1.8 ms against 0.6, measured)."""
    return [torch.bmm(rows, w.transpose(1, 2)) for w in _blocks(augmented, gates)]


def _forward(arch, rows, h0, weight_ih, weight_hh, bias_ih, bias_hh, steps, keep):
    """States (K, T, B, H) [and cells for an LSTM] and, if `keep`, what backward needs.

    Each gate's input projection buffer receives that gate's activations in place, step by
    step, and is what backward keeps (and overwrites with the gate's gradient): a training
    step allocates no other trial-sized buffer. Fresh trial-sized buffers per step cost page
    faults that the allocator's trim hands back to the kernel (measured: 0.3 s of system
    time per GRU-50 step of 64 networks)."""
    gates = GATES[arch]
    k, units, b = weight_hh.shape[0], weight_hh.shape[2], h0.shape[1]
    augmented = _input_weight(arch, weight_ih, bias_ih, bias_hh)
    if _in_kernel(arch, h0):
        hs, cs, saved, _ = _KERNELS[arch].forward(
            rows, h0, augmented, weight_hh, bias_hh, keep="backward" if keep else "states"
        )
        return (hs, cs), saved
    xg = [x.view(k, steps, b, units) for x in _input_projection(rows, augmented, gates)]
    w_t = [w.transpose(1, 2).contiguous() for w in weight_hh.chunk(gates, dim=1)]
    slots = steps if keep else 1
    # A batched product writes into a contiguous scratch: into a strided slice of a buffer
    # it would fall back to one small product per network (measured 2x slower).
    sc = h0.new_empty(k, b, units)
    h = h0[..., :units]
    if arch == "vanilla":  # one product per step: its strided operand is copied once anyway
        hs = xg[0]
        for t in range(steps):
            h = float32_tanh(torch.baddbmm(hs[:, t], h, w_t[0], out=sc), out=hs[:, t])
        return (hs, None), (hs,)
    hs = h0.new_empty(k, steps, b, units)
    h = h.clone()  # contiguous: a strided operand would be copied by each gate's product
    if arch == "gru":
        r_buf, z_buf, n_buf = xg
        hn_buf = h0.new_empty(k, slots, b, units)
        b_hn = bias_hh[:, 2 * units :].unsqueeze(1)
        for t in range(steps):
            r, z, n, hn = r_buf[:, t], z_buf[:, t], n_buf[:, t], hn_buf[:, t if keep else 0]
            torch.sigmoid(torch.baddbmm(r, h, w_t[0], out=sc), out=r)
            torch.sigmoid(torch.baddbmm(z, h, w_t[1], out=sc), out=z)
            hn.copy_(torch.baddbmm(b_hn, h, w_t[2], out=sc))
            # torch.tanh: with float32_tanh a trained GRU's float32 gradient at its minimum moved
            # from 4e-4 to 1e-3 of its scale off float64 (tests/unit/test_fused_cells.py)
            torch.tanh(torch.addcmul(n, r, sc, out=sc), out=n)
            hs[:, t].copy_(torch.lerp(n, h, z, out=h))
        return (hs, None), (hs, r_buf, z_buf, n_buf, hn_buf)
    cs = h0.new_empty(k, steps, b, units)
    i_buf, f_buf, g_buf, o_buf = xg
    tc_buf = h0.new_empty(k, slots, b, units)
    c = h0[..., units:]
    for t in range(steps):
        i, f, g, o, tc = i_buf[:, t], f_buf[:, t], g_buf[:, t], o_buf[:, t], tc_buf[:, t % slots]
        torch.sigmoid(torch.baddbmm(i, h, w_t[0], out=sc), out=i)
        torch.sigmoid(torch.baddbmm(f, h, w_t[1], out=sc), out=f)
        float32_tanh(torch.baddbmm(g, h, w_t[2], out=sc), out=g)
        torch.sigmoid(torch.baddbmm(o, h, w_t[3], out=sc), out=o)
        c = torch.mul(f, c, out=cs[:, t]).addcmul_(i, g)
        float32_tanh(c, out=tc)
        hs[:, t].copy_(torch.mul(o, tc, out=h))
    return (hs, cs), (hs, cs, i_buf, f_buf, g_buf, o_buf, tc_buf)


def _vanilla_backward(grad_h, grad_cs, saved, h0, w):
    (hs,) = saved  # the output: its buffer is the caller's, so the gradient gets its own
    steps = hs.shape[1]
    d = torch.empty_like(hs)
    carry = grad_h(steps - 1)
    for t in range(steps - 1, -1, -1):
        _tanh_grad(carry, hs[:, t], grad_input=d[:, t])
        carry = grad_h(t - 1).baddbmm_(d[:, t], w[0]) if t else d[:, 0] @ w[0]
    return [d], [d], carry


def _gru_backward(grad_h, grad_cs, saved, h0, w):
    """Step t's gradients overwrite step t's saved gates once read: r -> d(W_hn h + b_hn),
    z -> dz, n -> dn (the n-gate's input gradient), W_hn h + b_hn -> dr."""
    hs, r_buf, z_buf, n_buf, hn_buf = saved
    k, steps, b, units = hs.shape
    tmp, direct = hs.new_empty(k, b, units), hs.new_empty(k, b, units)
    carry = grad_h(steps - 1)
    for t in range(steps - 1, -1, -1):
        h_prev = hs[:, t - 1] if t else h0
        r, z, n, hn = r_buf[:, t], z_buf[:, t], n_buf[:, t], hn_buf[:, t]
        torch.sub(h_prev, n, out=tmp).mul_(carry)
        torch.mul(carry, z, out=direct)
        d_z = _sigmoid_grad(tmp, z, grad_input=z)
        torch.sub(carry, direct, out=tmp)
        d_n = _tanh_grad(tmp, n, grad_input=n)
        torch.mul(d_n, hn, out=tmp)
        d_r = _sigmoid_grad(tmp, r, grad_input=hn)
        d_hn = torch.mul(d_n, r, out=r)
        if t:
            direct += grad_h(t - 1)
        carry = torch.baddbmm(direct, d_r, w[0])
        carry.baddbmm_(d_z, w[1]).baddbmm_(d_hn, w[2])
    return [hn_buf, z_buf, n_buf], [hn_buf, z_buf, r_buf], carry


def _lstm_backward(grad_h, grad_cs, saved, h0, w):
    """Step t's gradients overwrite step t's saved gates (i, f, g, o) once read."""
    hs, cs, i_buf, f_buf, g_buf, o_buf, tc_buf = saved
    k, steps, b, units = hs.shape
    tmp, tmp2 = hs.new_empty(k, b, units), hs.new_empty(k, b, units)
    d_h = grad_h(steps - 1)
    d_c = hs.new_zeros(k, b, units) if grad_cs is None else grad_cs[:, steps - 1].clone()
    for t in range(steps - 1, -1, -1):
        c_prev = cs[:, t - 1] if t else h0[..., units:]
        i, f, g, o, tc = i_buf[:, t], f_buf[:, t], g_buf[:, t], o_buf[:, t], tc_buf[:, t]
        torch.mul(d_h, o, out=tmp)
        d_c += _tanh_grad(tmp, tc, grad_input=tmp)
        torch.mul(d_h, tc, out=tmp)
        _sigmoid_grad(tmp, o, grad_input=o)
        torch.mul(d_c, g, out=tmp)
        torch.mul(d_c, i, out=tmp2)
        _sigmoid_grad(tmp, i, grad_input=i)
        _tanh_grad(tmp2, g, grad_input=g)
        torch.mul(d_c, c_prev, out=tmp)
        d_c.mul_(f)
        _sigmoid_grad(tmp, f, grad_input=f)
        if t and grad_cs is not None:
            d_c += grad_cs[:, t - 1]
        d_h = grad_h(t - 1).baddbmm_(i, w[0]) if t else i @ w[0]
        d_h.baddbmm_(f, w[1]).baddbmm_(g, w[2]).baddbmm_(o, w[3])
    d = [i_buf, f_buf, g_buf, o_buf]
    return d, d, torch.cat([d_h, d_c], dim=-1)


_BACKWARD = {"vanilla": _vanilla_backward, "gru": _gru_backward, "lstm": _lstm_backward}


def _weight_gradient(d: torch.Tensor, hs: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """sum over steps and trials of d_t^T h_{t-1}, (K, H, H): one product over all steps."""
    k, steps, b, units = d.shape
    first = torch.bmm(d[:, 0].transpose(1, 2), h0[..., :units])
    if steps == 1:
        return first
    later = d[:, 1:].reshape(k, (steps - 1) * b, units)
    previous = hs[:, :-1].reshape(k, (steps - 1) * b, units)
    return first.baddbmm_(later.transpose(1, 2), previous)


class _FusedSweep(torch.autograd.Function):
    @staticmethod
    def forward(ctx, arch, steps, rows, h0, weight_ih, weight_hh, bias_ih, bias_hh):
        ctx.set_materialize_grads(False)
        (hs, cs), saved = _forward(
            arch, rows, h0, weight_ih, weight_hh, bias_ih, bias_hh, steps, keep=True
        )
        ctx.arch = arch
        ctx.save_for_backward(rows, h0, weight_ih, weight_hh, *saved)
        return hs if cs is None else (hs, cs)

    @staticmethod
    def backward(ctx, grad_hs, *grad_cs):
        rows, h0, weight_ih, weight_hh, *saved = ctx.saved_tensors
        grad_hs = torch.zeros_like(saved[0]) if grad_hs is None else grad_hs
        grad_c = grad_cs[0] if grad_cs else None
        grad_c = None if grad_c is None else grad_c.contiguous()
        if _in_kernel(ctx.arch, saved[0]):
            gradients, _ = _kernel_gradients(
                ctx, rows, h0, weight_ih, weight_hh, saved, grad_hs, None, grad_c
            )
            return None, None, *gradients
        swept = _backward_sweep(ctx.arch, saved, h0, weight_hh, grad_hs, None, grad_c)
        gradients = _sweep_gradients(ctx.needs_input_grad, rows, h0, weight_ih, saved, swept)
        return None, None, *gradients


class _FusedSweepOutputs(torch.autograd.Function):
    """The sweep and the readout as one function, for training: outputs (K, T, B, O) only. The
    hidden states' gradient is formed step by step inside the backward sweep from the outputs'
    gradient, instead of as a trial-sized tensor written by the readout and read back: vanilla
    20, K = 64, `delayed`, a 4 ms write of 10 MB a minibatch gone, the epoch 5-8% shorter in
    three paired runs (within the noise of a one-epoch benchmark); GRU and LSTM 50 unchanged."""

    @staticmethod
    def forward(ctx, arch, steps, rows, h0, weight_ih, weight_hh, bias_ih, bias_hh, fc_w, fc_b):
        ctx.arch = arch
        parameters = (weight_ih, weight_hh, bias_ih, bias_hh, fc_w, fc_b)
        outputs, saved = _outputs(arch, steps, rows, h0, *parameters, keep=True)
        ctx.save_for_backward(rows, h0, weight_ih, weight_hh, fc_w, *saved)
        return outputs

    @staticmethod
    def backward(ctx, grad_outputs):
        rows, h0, weight_ih, weight_hh, fc_w, *saved = ctx.saved_tensors
        hs = saved[0]
        k, steps, b, units = hs.shape
        grad_outputs = grad_outputs.contiguous()
        flat = grad_outputs.view(k, steps * b, -1)
        d_fc_b = flat.sum(dim=1)
        if _in_kernel(ctx.arch, hs):
            gradients, d_fc_w = _kernel_gradients(
                ctx, rows, h0, weight_ih, weight_hh, saved, grad_outputs, fc_w, None
            )
            return None, None, *gradients, d_fc_w, d_fc_b
        # before the sweep: it overwrites the saved gates with their gradients
        d_fc_w = torch.bmm(flat.mT, hs.view(k, steps * b, units))
        swept = _backward_sweep(ctx.arch, saved, h0, weight_hh, grad_outputs, fc_w, None)
        gradients = _sweep_gradients(ctx.needs_input_grad, rows, h0, weight_ih, saved, swept)
        return None, None, *gradients, d_fc_w, d_fc_b


def _backward_sweep(arch, saved, h0, weight_hh, grad, readout_weight, grad_c):
    """The sweep's gradients (per gate: input side, recurrent side; h0's) from the outside
    gradient `grad`: the outputs' (K, T, B, O) through the readout's weight, or where that is
    None the states' own (K, T, B, H)."""
    if readout_weight is None:

        def grad_h(t: int) -> torch.Tensor:  # a new tensor: the backward sweep adds into it
            return grad[:, t].clone(memory_format=torch.contiguous_format)

    else:

        def grad_h(t: int) -> torch.Tensor:
            return _output_gradient(grad[:, t], readout_weight)

    return _BACKWARD[arch](grad_h, grad_c, saved, h0, _blocks(weight_hh, GATES[arch]))


def _sweep_gradients(needs_input_grad, rows, h0, weight_ih, saved, swept):
    """The gradients of rows, h0, weight_ih, weight_hh, bias_ih, bias_hh from the backward
    sweep's (`_backward_sweep`)."""
    hs = saved[0]
    k, steps, b, units = hs.shape
    d_x, d_rec, d_h0 = swept
    flat_x = [d.view(k, steps * b, units) for d in d_x]
    d_weight_hh = torch.cat([_weight_gradient(d, hs, h0) for d in d_rec], dim=1)
    # [x, 1]^T d, not d^T [x, 1]: MKL's product with few output columns is 4x slower
    # (measured); its last row is the input bias' gradient, the sum of d over all rows.
    d_augmented = [torch.bmm(rows.mT, d).mT for d in flat_x]
    d_weight_ih = torch.cat([d[..., :-1] for d in d_augmented], dim=1)
    d_bias_ih = torch.cat([d[..., -1] for d in d_augmented], dim=1)
    # A gate whose recurrent gradient is its input gradient (all but GRU's n) has that sum.
    d_bias_hh = torch.cat(
        [
            d_in[..., -1] if rec is x else rec.sum(dim=(1, 2))
            for d_in, rec, x in zip(d_augmented, d_rec, d_x, strict=True)
        ],
        dim=1,
    )
    d_rows = _rows_gradient(flat_x, weight_ih) if needs_input_grad[2] else None
    d_h0 = d_h0 if needs_input_grad[3] else None
    return d_rows, d_h0, d_weight_ih, d_weight_hh, d_bias_ih, d_bias_hh


def _rows_gradient(flat_x: list[torch.Tensor], weight_ih: torch.Tensor) -> torch.Tensor:
    """The rows' gradient (K, T*B, I+1) from each gate's input-side gradient (K, T*B, H); the
    ones column's is not needed: zero."""
    blocks = _blocks(weight_ih, len(flat_x))
    d_inputs = sum(torch.bmm(d, w) for d, w in zip(flat_x, blocks, strict=True))
    return torch.nn.functional.pad(d_inputs, (0, 1))


def _kernel_gradients(ctx, rows, h0, weight_ih, weight_hh, saved, grad, readout_weight, grad_c):
    """`_sweep_gradients`' answer, and the readout weight's gradient (given a readout), from a
    C kernel: it sums the parameters' gradients inside its backward sweep."""
    needs_input_grad = ctx.needs_input_grad
    swept = _KERNELS[ctx.arch].backward(
        rows, h0, saved, weight_hh, grad, readout_weight, grad_c, keep_steps=needs_input_grad[2]
    )
    d_rows = _rows_gradient(swept.steps, weight_ih) if swept.steps is not None else None
    d_h0 = swept.h0 if needs_input_grad[3] else None
    d_augmented = swept.weight_ih
    gradients = (d_rows, d_h0, d_augmented[..., :-1], swept.weight_hh, d_augmented[..., -1])
    return (*gradients, swept.bias_hh), swept.readout


def readout(states: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Outputs (K, N, O) of hidden states (K, N, H) under readouts (K, O, H) and (K, O), as the
    transpose of W H^T + b (K, O, N): MKL's product with a few output rows runs 2.4-3x faster
    than with as few output columns (one AMD EPYC core, K = 64, N = 1,920, H = 20, O = 1 / 2 /
    3: 1.06 / 2.13 / 2.72 ms -> 0.43 / 0.58 / 0.88 ms, bias included)."""
    return torch.baddbmm(bias.unsqueeze(2), weight, states.mT).mT


def _output_gradient(grad: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The sum over outputs o of grad_o w_o, (K, N, O) x (K, O, H) -> (K, N, H), as broadcast
    multiplies: a batched product with inner size O (one output) is 3-10x slower in MKL."""
    d_h = torch.mul(grad[..., :1], weight[:, :1])
    for o in range(1, weight.shape[1]):
        d_h.addcmul_(grad[..., o : o + 1], weight[:, o : o + 1])
    return d_h


def sweep(
    arch: str,
    inputs: torch.Tensor,
    h0: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor,
    bias_hh: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Hidden states (K, T, B, H) and, for an LSTM, cell states (K, T, B, H) of K networks.

    `inputs` (K or 1, T, B, I) are time-major trials (1: shared by all networks); h0 is
    (K, B, S). Differentiable in the inputs, h0, all four recurrent parameters and through
    every state; without autograd nothing but the states is kept.
    """
    steps = inputs.shape[1]
    params = (_rows(inputs, weight_hh.shape[0]), h0, weight_ih, weight_hh, bias_ih, bias_hh)
    if torch.is_grad_enabled() and any(t.requires_grad for t in params):
        out = _FusedSweep.apply(arch, steps, *params)
        return (out, None) if arch != "lstm" else out
    with torch.no_grad():
        return _forward(arch, *params, steps, keep=False)[0]


def sweep_outputs(
    arch: str, inputs: torch.Tensor, h0: torch.Tensor, *parameters: torch.Tensor
) -> torch.Tensor:
    """Outputs (K, T, B, O) of K networks: `sweep` then the readout, for training.

    `parameters` are `sweep`'s four recurrent ones, then the readout's weight (K, O, H) and bias
    (K, O); differentiable in those alone (not the inputs or h0), with no trial-sized gradient
    of the hidden states in between. Without autograd (a loss pass) a C kernel writes the
    outputs alone, the states never leaving its caches."""
    rows = _rows(inputs, parameters[1].shape[0])
    if torch.is_grad_enabled() and any(t.requires_grad for t in parameters):
        return _FusedSweepOutputs.apply(arch, inputs.shape[1], rows, h0, *parameters)
    with torch.no_grad():
        return _outputs(arch, inputs.shape[1], rows, h0, *parameters, keep=False)[0]


def _outputs(arch, steps, rows, h0, weight_ih, weight_hh, bias_ih, bias_hh, fc_w, fc_b, keep):
    """Outputs (K, T, B, O) and, if `keep`, what the backward sweep needs (else ()): in a C
    kernel the readout inside the sweep (without `keep` no states written), else PyTorch's
    sweep and then the readout."""
    if _in_kernel(arch, h0):
        augmented = _input_weight(arch, weight_ih, bias_ih, bias_hh)
        kernel_keeps = "backward" if keep else "outputs"  # a word of run.KEEPS
        *_, saved, outputs = _KERNELS[arch].forward(
            rows, h0, augmented, weight_hh, bias_hh, fc_w, fc_b, kernel_keeps
        )
        return outputs, saved
    (hs, _), saved = _forward(arch, rows, h0, weight_ih, weight_hh, bias_ih, bias_hh, steps, keep)
    k, _, b, units = hs.shape
    outputs = readout(hs.view(k, steps * b, units), fc_w, fc_b).view(k, steps, b, -1)
    return outputs, saved if keep else ()


def _rows(inputs: torch.Tensor, k: int) -> torch.Tensor:
    """Time-major inputs (K or 1, T, B, I) as rows (K, T*B, I+1) ending in a ones column, the
    biases' (see _input_projection). Written into one buffer: `torch.cat` with a tensor of ones
    took 1.6x as long (vanilla 20, K = 64, a minibatch of `delayed`: 0.80 -> 0.50 ms)."""
    rows = inputs.new_empty(*inputs.shape[:-1], inputs.shape[-1] + 1)
    rows[..., :-1] = inputs
    rows[..., -1] = 1
    return rows.view(inputs.shape[0], -1, rows.shape[-1]).expand(k, -1, -1)
